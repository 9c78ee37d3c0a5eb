"""The real-photo path with a torchvision classifier (untrained weights here)."""

import numpy as np
import pytest
import torch
import torchvision
from skimage.data import chelsea

from captum_fido.demo.photos import NormalizedClassifier, explain_photo, photo_to_tensor

pytestmark = pytest.mark.usefixtures("one_thread")


def test_photo_to_tensor_resizes_and_crops():
    t = photo_to_tensor(chelsea(), size=64)
    assert t.shape == (1, 3, 64, 64) and 0 <= t.min() and t.max() <= 1
    gray = photo_to_tensor((np.random.rand(40, 50) * 255).astype(np.uint8), 32)
    assert gray.shape == (1, 3, 32, 32)
    with pytest.raises(TypeError, match="image"):
        photo_to_tensor("cat.jpg")
    with pytest.raises(ValueError, match="size"):
        photo_to_tensor(chelsea(), size=4)


def test_explain_photo_with_untrained_resnet18(tmp_path):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = explain_photo(chelsea(), model, size=64, n_steps=3, n_samples=2, seed=0)
    assert res.attribution.shape == (64, 64)
    assert 0.0 <= res.attribution.min() and res.attribution.max() <= 1.0
    assert 0 <= res.target < 1000 and 0.0 <= res.probability <= 1.0
    assert model.training  # mode restored
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    path = res.save_figure(tmp_path / "photo.png")
    assert path.is_file() and path.stat().st_size > 0
    again = explain_photo(
        chelsea(), model, target=res.target, size=64, n_steps=3, n_samples=2, seed=0
    )
    assert np.allclose(again.attribution, res.attribution)


def test_explain_photo_rejects_bad_arguments():
    model = torchvision.models.resnet18(weights=None)
    with pytest.raises(ValueError, match="target"):
        explain_photo(chelsea(), model, target=5000, size=32, n_steps=1)
    with pytest.raises(TypeError, match="model"):
        explain_photo(chelsea(), lambda x: x, size=32, n_steps=1)
    with pytest.raises(ValueError, match="mean and std"):
        NormalizedClassifier(model, mean=(0.5,), std=(0.1, 0.2))
