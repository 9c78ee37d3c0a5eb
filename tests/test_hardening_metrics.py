"""Metrics check boxes and targets the way the attribution methods check
theirs, and constant maps follow one documented convention (issue 20)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import BOX, RegionClassifier, region_images

from captum_fido.evaluation import ComparisonSettings, EvalData, run_comparison
from captum_fido.evaluation.methods import MethodSpec
from captum_fido.infillers import MeanInfiller
from captum_fido.metrics import (
    choose_alpha,
    confidence_under_masks,
    deletion_curve,
    infiller_confidence,
    insertion_curve,
    map_outside_box,
    mass_outside_box,
    model_randomisation,
    pointing_game,
    random_grid_masks,
    saliency_metric,
    salient_boxes,
    spearman_correlation,
    stability,
    wsl_correct,
    wsl_error,
)

H = W = 64
T, L, BH, BW = BOX
GOOD = torch.tensor([float(L), float(T), float(L + BW), float(T + BH)])


def _maps(n: int = 3) -> torch.Tensor:
    maps = torch.zeros(n, H, W)
    maps[:, T : T + BH, L : L + BW] = 1.0
    return maps


#: Boxes every metric must refuse, with the words its error must hold.
BAD_BOXES = {
    "entirely left of the image": ([-10.0, 2.0, -2.0, 8.0], "negative"),
    "partly left": ([-2.0, 0.0, 5.0, 5.0], "negative"),
    "partly above": ([3.0, -0.5, 9.0, 9.0], "negative"),
    "past the right edge": ([60.0, 0.0, 70.0, 10.0], "outside the 64 x 64"),
    "past the bottom edge": ([0.0, 60.0, 10.0, 64.5], "outside the 64 x 64"),
    "entirely right": ([80.0, 80.0, 90.0, 90.0], "outside the 64 x 64"),
    "NaN": ([float("nan"), 0.0, 10.0, 10.0], "NaN or infinite"),
    "infinite": ([0.0, 0.0, float("inf"), 10.0], "NaN or infinite"),
    "reversed": ([10.0, 10.0, 5.0, 20.0], "empty or reversed"),
    "zero width": ([5.0, 5.0, 5.0, 9.0], "empty or reversed"),
}


def _gt_metrics(maps, boxes):
    pred = salient_boxes(maps, threshold=0.5)
    return {
        "wsl_error": lambda: wsl_error(maps, boxes, threshold=0.5),
        "choose_alpha": lambda: choose_alpha(maps, boxes, alphas=(0.5, 1.0)),
        "map_outside_box": lambda: map_outside_box(maps, boxes),
        "mass_outside_box": lambda: mass_outside_box(maps, boxes),
        "pointing_game": lambda: pointing_game(maps, boxes),
        "wsl_correct": lambda: wsl_correct(pred, boxes, image_size=(H, W)),
    }


@pytest.mark.parametrize("kind", sorted(BAD_BOXES))
@pytest.mark.parametrize("metric", sorted(_gt_metrics(_maps(), [GOOD] * 3)))
def test_every_metric_refuses_bad_ground_truth_boxes(kind, metric):
    box, words = BAD_BOXES[kind]
    # The bad box is the second one of image 1 (two boxes).
    boxes = [GOOD, torch.stack([GOOD, torch.tensor(box)]), GOOD]
    with pytest.raises(ValueError, match=r"gt_boxes\[1\]\[1\]") as err:
        _gt_metrics(_maps(), boxes)[metric]()
    assert words in str(err.value)


@pytest.mark.parametrize("kind", sorted(BAD_BOXES))
def test_saliency_metric_refuses_bad_boxes_before_the_model(kind):
    box, words = BAD_BOXES[kind]
    calls = []

    def model(x):
        calls.append(x.shape[0])
        return torch.zeros(x.shape[0], 3)

    boxes = torch.stack([GOOD, torch.tensor(box)])
    with pytest.raises(ValueError, match=r"boxes\[1\]") as err:
        saliency_metric(model, region_images(2), boxes, 1)
    assert words in str(err.value) and calls == []


@pytest.mark.parametrize(
    "box", [[0.0, 0.0, 1.0, 1.0], [63.0, 63.0, 64.0, 64.0], [0.0, 0.0, 64.0, 64.0]]
)
def test_boxes_on_the_image_edges_are_accepted(box):
    b = torch.tensor(box)
    maps = _maps(1)
    assert 0.0 <= map_outside_box(maps, [b])[0] <= 1.0
    assert pointing_game(maps, [b]).hits.shape == (1,)
    sm = saliency_metric(RegionClassifier().eval(), region_images(1), b[None], 1)
    assert torch.isfinite(sm).all()
    # Float rounding of a box scaled from another resolution is not an overhang.
    scaled = b.clone()
    scaled[2:] = scaled[2:] + 1e-5
    assert map_outside_box(maps, [scaled]).shape == (1,)


def test_box_container_errors_name_the_argument():
    maps = _maps(2)
    cases = [
        ([GOOD], ValueError, "one entry per image"),
        (5, TypeError, "gt_boxes must be a sequence"),
        ("boxes", TypeError, "gt_boxes must be a sequence"),
        (torch.zeros(2, 5), TypeError, "gt_boxes must be a sequence"),
        ([GOOD, torch.zeros(0, 4)], ValueError, r"gt_boxes\[1\] holds no box"),
        ([GOOD, torch.zeros(3)], ValueError, r"gt_boxes\[1\] must have shape"),
        ([GOOD, torch.ones(4, dtype=torch.bool)], TypeError, "real box coordinates"),
        ([GOOD, ["a", "b", "c", "d"]], TypeError, r"gt_boxes\[1\]"),
    ]
    for boxes, kind, words in cases:
        with pytest.raises(kind, match=words):
            map_outside_box(maps, boxes)


def test_known_answers_with_valid_boxes():
    maps = _maps(2)
    # The map is exactly the box: nothing outside, a correct WSL box, a hit.
    assert map_outside_box(maps, [GOOD, GOOD]).tolist() == [0.0, 0.0]
    assert wsl_error(maps, [GOOD, GOOD], threshold=0.5) == 0.0
    assert pointing_game(maps, [GOOD, GOOD], tolerance=0).accuracy == 1.0
    # A box covering the left half of the map's region: half the mass outside.
    half = GOOD.clone()
    half[2] = L + BW // 2
    assert mass_outside_box(maps[:1], [half]).tolist() == [0.5]
    # Integer and list boxes are read as coordinates, not refused.
    assert map_outside_box(maps[:1], [[L, T, L + BW, T + BH]]).tolist() == [0.0]


def test_wsl_correct_checks_pred_boxes_iou_and_size():
    gt = [GOOD]
    with pytest.raises(ValueError, match=r"pred_boxes\[0\].*negative"):
        wsl_correct(torch.tensor([[-5.0, 0.0, 5.0, 5.0]]), gt)
    with pytest.raises(ValueError, match=r"pred_boxes\[0\].*NaN"):
        wsl_correct(torch.tensor([[float("nan"), 0.0, 5.0, 5.0]]), gt)
    with pytest.raises(ValueError, match=r"pred_boxes\[0\].*outside the 8 x 8"):
        wsl_correct(
            torch.tensor([[0.0, 0.0, 9.0, 5.0]]), [[0, 0, 4, 4]], image_size=(8, 8)
        )
    with pytest.raises(ValueError, match="iou must"):
        wsl_correct(GOOD[None], gt, iou=1.0)
    with pytest.raises(ValueError, match="iou must"):
        wsl_correct(GOOD[None], gt, iou=float("nan"))
    with pytest.raises(ValueError, match="image_size"):
        wsl_correct(GOOD[None], gt, image_size=(64,))
    assert wsl_correct(GOOD[None], gt).tolist() == [True]


@pytest.mark.parametrize(
    "call",
    [
        lambda m: salient_boxes(m, threshold=float("nan")),
        lambda m: salient_boxes(m, alpha=-1.0),
        lambda m: salient_boxes(m, alpha=float("inf")),
        lambda m: map_outside_box(m, [GOOD] * 3, threshold=float("nan")),
        lambda m: choose_alpha(m, [GOOD] * 3, alphas=()),
        lambda m: choose_alpha(m, [GOOD] * 3, alphas=(0.5, float("nan"))),
    ],
)
def test_thresholds_are_checked(call):
    with pytest.raises(ValueError):
        call(_maps())


# ----------------------------------------------------------------- targets


@pytest.fixture
def model():
    return RegionClassifier().eval()


@pytest.mark.parametrize("target", [3, -1, [0, 1, 7], torch.tensor([0, 9, 1])])
def test_saliency_metric_refuses_targets_outside_the_model(model, target):
    x = region_images(3)
    with pytest.raises(ValueError, match="target out of range: the model has 3"):
        saliency_metric(model, x, salient_boxes(_maps(), threshold=0.5), target)


@pytest.mark.parametrize(
    "target, kind",
    [(None, ValueError), (1.0, TypeError), (True, TypeError), ([0, 1], ValueError)],
)
def test_saliency_metric_refuses_malformed_targets(model, target, kind):
    with pytest.raises(kind, match="target"):
        saliency_metric(model, region_images(3), GOOD.expand(3, 4), target)


def test_saliency_metric_known_answer(model):
    x = region_images(2)
    full = torch.tensor([[0.0, 0.0, 64.0, 64.0]] * 2)
    sm = saliency_metric(model, x, full, 1)
    logits = model(x)
    expected = -F.logsigmoid(logits[:, 1] - torch.logsumexp(logits[:, [0, 2]], 1))
    torch.testing.assert_close(sm, expected.float().detach())
    with pytest.raises(ValueError, match="min_area"):
        saliency_metric(model, x, full, 1, min_area=0.0)


def test_saliency_metric_checks_the_model_output(model):
    x = region_images(2)
    boxes = GOOD.expand(2, 4)
    with pytest.raises(ValueError, match="NaN or infinite"):
        saliency_metric(
            lambda t: torch.full((t.shape[0], 3), float("nan")), x, boxes, 1
        )
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        saliency_metric(lambda t: torch.zeros(1, 3), x, boxes, 1)


@pytest.mark.parametrize("curve", [deletion_curve, insertion_curve])
def test_curves_refuse_targets_outside_the_model(model, curve):
    with pytest.raises(ValueError, match="target out of range"):
        curve(model, region_images(2), _maps(2), 5, MeanInfiller([0.5] * 3), (0.0, 1.0))


def test_infill_quality_checks_labels_before_in_filling(model):
    x = region_images(2)
    keep = random_grid_masks(2, (H, W), 0.5, torch.Generator().manual_seed(0))
    fills = []

    def fill(x, keep):
        fills.append(1)
        return torch.zeros_like(x)

    with pytest.raises(ValueError, match="labels out of range: the model has 3"):
        confidence_under_masks(model, x, torch.tensor([0, 4]), fill, keep)
    assert fills == []
    with pytest.raises(TypeError, match="labels"):
        confidence_under_masks(model, x, torch.tensor([0.0, 1.0]), fill, keep)
    with pytest.raises(ValueError, match="labels"):
        confidence_under_masks(model, x, [0, 1, 2], None, None)
    with pytest.raises(ValueError, match="images holds NaN"):
        confidence_under_masks(model, x * float("nan"), [0, 1], None, None)
    with pytest.raises(ValueError, match="keep_masks must be a float tensor of 0s"):
        confidence_under_masks(model, x, [0, 1], fill, keep * 0.5)
    with pytest.raises(ValueError, match="labels out of range"):
        infiller_confidence(model, x, [0, 3], {"zeros": fill})
    with pytest.raises(ValueError, match=r"drop_fractions\[1\]"):
        infiller_confidence(model, x, [0, 1], {"zeros": fill}, (0.5, 1.5))
    with pytest.raises(TypeError, match=r"infillers\['bad'\]"):
        infiller_confidence(model, x, [0, 1], {"bad": 3})
    assert fills == []
    # Known answer: a clean image's confidence is sigmoid(log-odds).
    conf = confidence_under_masks(model, x, [1, 1], None, None)
    logits = model(x)
    expected = torch.sigmoid(logits[:, 1] - torch.logsumexp(logits[:, [0, 2]], 1))
    torch.testing.assert_close(conf, expected.detach())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": -1, "size": (8, 8), "drop_fraction": 0.5},
        {"n": 2, "size": (8,), "drop_fraction": 0.5},
        {"n": 2, "size": (0, 8), "drop_fraction": 0.5},
        {"n": 2, "size": (8, 8), "drop_fraction": float("nan")},
        {"n": 2, "size": (8, 8), "drop_fraction": 0.5, "grid": 0},
        {"n": 2, "size": (8, 8), "drop_fraction": 0.5, "grid": True},
    ],
)
def test_random_grid_masks_checks_its_arguments(kwargs):
    with pytest.raises((TypeError, ValueError)):
        random_grid_masks(**kwargs)


def test_model_randomisation_checks_targets_before_explaining(model):
    explained = []

    def explain(m, x, t):
        explained.append(1)
        return torch.rand(x.shape[0], H, W)

    with pytest.raises(ValueError, match="target out of range: the model has 3"):
        model_randomisation(model, region_images(2), [0, 3], explain)
    assert explained == []


# -------------------------------------------------- constant-map convention


def test_stability_of_constant_maps_follows_the_convention():
    flat = torch.full((1, 8, 8), 0.25)
    varying = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(0))
    # Identical constant maps: the seed does not matter.
    assert stability([flat, flat]).tolist() == [1.0]
    assert stability([torch.zeros(1, 8, 8)] * 3).tolist() == [1.0]
    # Different constants: neither ranks anything (Pearson ignores offsets).
    assert stability([flat, flat + 0.5]).tolist() == [1.0]
    # A constant and a varying map: no association.
    assert stability([flat, varying]).tolist() == [0.0]
    # Three seeds, one constant: mean of (0, 0, 1) pairs... (flat, flat2, varying)
    assert stability([flat, flat * 2, varying]).tolist() == pytest.approx([1 / 3])
    # Float noise far below the values is still constant.
    noisy = flat + 1e-9 * varying
    assert stability([flat, noisy]).tolist() == [1.0]
    # Varying maps keep Pearson's values.
    assert stability([varying, 3 * varying + 1]).tolist() == pytest.approx([1.0])
    assert stability([varying, -varying]).tolist() == pytest.approx([-1.0])
    # Tiny but varying values (gradients) are not constant.
    tiny = 1e-9 * varying
    assert stability([tiny, tiny]).tolist() == pytest.approx([1.0])
    assert stability([tiny, flat]).tolist() == [0.0]


def test_spearman_constant_rows_follow_the_same_convention():
    a = torch.arange(16.0).view(1, 16)
    assert spearman_correlation(torch.ones(1, 16), torch.zeros(1, 16)).tolist() == [1.0]
    assert spearman_correlation(torch.ones(1, 16), a).tolist() == [0.0]
    assert spearman_correlation(a, a.flip(1)).tolist() == [-1.0]
    assert not math.isnan(spearman_correlation(a * 0, a * 0)[0])


@pytest.mark.parametrize(
    "bad, kind",
    [
        (torch.full((2, 1, 4), float("nan")), ValueError),
        (torch.ones(1, 1, 4), ValueError),
        (torch.ones(2, 1, 4, dtype=torch.long), TypeError),
        ([torch.ones(1, 4), torch.ones(1, 5)], ValueError),
        ("maps", TypeError),
    ],
)
def test_stability_checks_its_maps(bad, kind):
    with pytest.raises(kind, match="maps_over_seeds"):
        stability(bad)


@pytest.mark.parametrize(
    "a, b",
    [
        (torch.tensor([[1.0, float("nan")]]), torch.ones(1, 2)),
        (torch.ones(1, 2), torch.ones(1, 3)),
        (torch.ones(0, 2), torch.ones(0, 2)),
        ([[1.0, 2.0]], torch.ones(1, 2)),
    ],
)
def test_spearman_checks_its_arguments(a, b):
    with pytest.raises((TypeError, ValueError)):
        spearman_correlation(a, b)


# ------------------------------------------- the harness shows collapse


def _collapsing(when):
    r"""A mask 'method' whose map is an informative square, or a collapsed
    (nearly empty) noisy map for the seeds ``when`` picks."""

    def explain(model, x, y, seed):
        g = torch.Generator().manual_seed(seed)
        noise = 0.05 * torch.rand(x.shape[0], H, W, generator=g)
        if when(seed):
            return noise  # every value below 0.1: empty
        maps = noise.clone()
        maps[:, T : T + BH, L : L + BW] = 0.9
        return maps

    return explain


@pytest.mark.parametrize(
    "when, status, has_number",
    [
        (lambda seed: False, "ok", True),
        (lambda seed: True, "collapsed", False),
        (lambda seed: seed == 1, "collapsed in one seed", True),
    ],
)
def test_harness_marks_collapsed_maps_instead_of_instability(
    tmp_path: Path, when, status, has_number
):
    spec = MethodSpec("M", "fido-ssr", "Mean", _collapsing(when), True)
    n = 2
    data = EvalData(
        region_images(n),
        torch.ones(n, dtype=torch.long),
        GOOD.expand(n, 4).clone(),
        [0, 1],
        ["test", "test"],
    )
    settings = ComparisonSettings(
        seed=0,
        fractions=(0.0, 1.0),
        n_stability=2,
        n_sanity=0,
        preview=0,
        show_progress=False,
    )
    rows = run_comparison(
        RegionClassifier().eval(),
        data,
        [spec],
        {"mean": MeanInfiller([0.5] * 3)},
        tmp_path / "per_image.csv",
        settings,
    )
    mine = [r for r in rows if r["method"] == "M"]
    assert [r["stability_status"] for r in mine] == [status] * n
    for r in mine:
        assert (r["stability"] != "") == has_number
        if status == "ok":
            # The square dominates the noise: nearly the same map.
            assert float(r["stability"]) > 0.95
