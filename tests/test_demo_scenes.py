import numpy as np
import pytest
import torch

from captum_fido.demo.scenes import (
    CLASSES,
    SPLITS,
    SceneDataset,
    background_names,
    load_split,
    make_scene,
    scene_seed,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_scene_is_deterministic_in_its_seed():
    a, b = make_scene(123), make_scene(123)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.mask, b.mask)
    assert a.box == b.box and a.label == b.label
    assert not np.array_equal(make_scene(124).image, a.image)


def test_scene_shapes_ranges_and_classes():
    assert len(CLASSES) >= 6
    labels = set()
    for seed in range(60):
        s = make_scene(seed)
        assert s.image.shape == (64, 64, 3) and s.image.dtype == np.float32
        assert 0.0 <= s.image.min() and s.image.max() <= 1.0
        assert s.background_name in background_names()
        labels.add(s.label)
    assert labels == set(range(len(CLASSES)))


@pytest.mark.parametrize("seed", range(0, 400, 37))
def test_box_and_mask_match_the_drawn_object(seed):
    s = make_scene(seed)
    ys, xs = np.nonzero(s.mask)
    assert s.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    # The object is where image and clean plate differ, and nowhere else.
    diff = np.abs(s.image - s.background).max(2)
    assert diff[~(s.alpha > 0)].max() == 0.0
    assert (diff[s.mask] > 0).mean() > 0.95
    # Objects have a sensible size and stay inside the frame.
    area = s.mask.mean()
    assert 0.01 < area < 0.5
    x0, y0, x1, y1 = s.box
    assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64


def test_splits_are_disjoint_and_fixed():
    ranges = sorted((start, start + n) for start, n in SPLITS.values())
    for (_, a1), (b0, _) in zip(ranges, ranges[1:]):
        assert a1 <= b0
    assert scene_seed("train", 0) == 0
    assert scene_seed("test", 5) == SPLITS["test"][0] + 5
    with pytest.raises(ValueError, match="split"):
        scene_seed("holdout", 0)
    with pytest.raises(ValueError, match="index"):
        scene_seed("val", SPLITS["val"][1])


def test_load_split_and_dataset_agree():
    x, y, bg, m, boxes = load_split("val", 5, with_details=True)
    assert x.shape == (5, 3, 64, 64) and y.dtype == torch.long
    assert m.shape == (5, 1, 64, 64) and boxes.shape == (5, 4)
    ds = SceneDataset("val", 5)
    assert len(ds) == 5
    item = ds[3]
    assert torch.equal(item["image"], x[3])
    assert int(item["label"]) == int(y[3])
    assert torch.equal(item["box"], boxes[3])
    assert not torch.equal(load_split("test", 2)[0], load_split("train", 2)[0])


def test_other_size_and_forced_label():
    s = make_scene(9, size=96, label=2)
    assert s.image.shape == (96, 96, 3) and s.label == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1, "size": 16}, "size"),
        ({"seed": 1, "label": 99}, "label"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_scene(**kwargs)
