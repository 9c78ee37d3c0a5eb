r"""Handwritten digits for the latent counterfactual demo.

scikit-learn's ``load_digits`` (1,797 greyscale 8x8 digits from 43 writers)
is upsampled bilinearly to 16x16 and scaled to ``[0, 1]``. A fixed, seeded
split holds out 20 % of the digits; the shipped models never saw them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["IMAGE_SIZE", "N_CLASSES", "DigitData", "load_digit_data"]

#: Side of the upsampled digit images.
IMAGE_SIZE = 16
N_CLASSES = 10


@dataclass(frozen=True)
class DigitData:
    r"""The digits split into training and held-out parts.

    Attributes:
        train_images: ``(n_train, 1, 16, 16)`` float32 in ``[0, 1]``.
        train_labels: ``(n_train,)`` int64.
        test_images: ``(n_test, 1, 16, 16)`` held-out digits.
        test_labels: ``(n_test,)``.

    Examples::

        >>> data = load_digit_data()
        >>> data.train_images.shape, data.test_images.shape
        (torch.Size([1438, 1, 16, 16]), torch.Size([359, 1, 16, 16]))
    """

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor


def load_digit_data(test_share: float = 0.2, seed: int = 0) -> DigitData:
    r"""scikit-learn's digits, upsampled to 16x16, split with a fixed seed.

    Args:
        test_share (float, optional): Share of digits held out. Default: 0.2.
        seed (int, optional): Seed of the split permutation. Default: 0 (the
            split the shipped models were trained on).

    Returns:
        DigitData: the training and held-out images and labels.

    Examples::

        >>> data = load_digit_data(test_share=0.2, seed=0)
        >>> len(data.train_labels), len(data.test_labels)
        (1438, 359)
        >>> float(data.train_images.min()) >= 0.0
        True
    """
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must lie in (0, 1), got {test_share}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32)) / 16.0
    images = F.interpolate(
        images.unsqueeze(1),
        size=(IMAGE_SIZE, IMAGE_SIZE),
        mode="bilinear",
        align_corners=False,
    ).clamp(0.0, 1.0)
    labels = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(test_share * len(labels)))
    test, train = order[:n_test], order[n_test:]
    return DigitData(images[train], labels[train], images[test], labels[test])
