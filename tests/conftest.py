"""Shared fixtures: hand-built classifiers whose evidence sits in a known place."""

from __future__ import annotations

import pytest
import torch
from torch import nn

#: (top, left, height, width) of the evidence region in the 64x64 test images.
BOX = (10, 30, 16, 20)


class RegionClassifier(nn.Module):
    r"""Three classes whose logits depend only on the mean of one image region.

    ``logit_1 = scale * (mean(x[box]) - 0.5)``, ``logit_0 = 0``,
    ``logit_2 = -logit_1``: nothing outside the box can change the output.
    """

    def __init__(self, box=BOX, scale: float = 40.0) -> None:
        super().__init__()
        self.box = box
        self.scale = nn.Parameter(torch.tensor(float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, l, h, w = self.box
        r = x[:, :, t : t + h, l : l + w].mean(dim=(1, 2, 3))
        s = self.scale * (r - 0.5)
        return torch.stack([torch.zeros_like(s), s, -s], dim=1)


class TinyCNN(nn.Module):
    r"""A small conv net with batch-norm and dropout (for contract tests)."""

    def __init__(self, n_classes: int = 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.1),
            nn.Linear(8, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def region_images(n: int = 3, size: int = 64, seed: int = 0) -> torch.Tensor:
    r"""Dark noisy images with a bright patch exactly on ``BOX``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g) * 0.3
    t, l, h, w = BOX
    x[:, :, t : t + h, l : l + w] = 0.9 + 0.1 * torch.rand(n, 3, h, w, generator=g)
    return x


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    r"""One torch thread for the whole run: the test models and images are
    tiny, and on a 2-core machine shared with other work one thread is several
    times faster than oversubscribed threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def region_model() -> RegionClassifier:
    return RegionClassifier().eval()


@pytest.fixture
def region_x() -> torch.Tensor:
    return region_images()


@pytest.fixture
def cnn() -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN().eval()


@pytest.fixture
def small_x() -> torch.Tensor:
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
