"""The paper's metrics on cases whose answers are known."""

from __future__ import annotations

import pytest
import torch

from captum_fido.infillers import MeanInfiller
from captum_fido.metrics import (
    center_box,
    choose_alpha,
    deletion_curve,
    map_outside_box,
    mass_outside_box,
    max_box,
    saliency_metric,
    salient_box,
    stability,
    wsl_error,
)
from tests.conftest import BOX, RegionClassifier, region_images


def _box_map(n=3, size=64):
    t, l, h, w = BOX
    m = torch.zeros(n, size, size)
    m[:, t : t + h, l : l + w] = 1.0
    return m


def test_deletion_curve_prefers_the_true_region():
    model = RegionClassifier().eval()
    x = region_images()
    good = _box_map()
    bad = 1.0 - good  # everything but the evidence first
    fill = MeanInfiller([0.0, 0.0, 0.0])
    c_good = deletion_curve(model, x, good, 1, fill)
    c_bad = deletion_curve(model, x, bad, 1, fill)
    assert c_good.normalized.shape == (3, 21)
    torch.testing.assert_close(c_good.normalized[:, 0], torch.ones(3))
    torch.testing.assert_close(c_good.normalized[:, -1], torch.zeros(3))
    # Removing the 7.8% box first destroys the score at once.
    assert (c_good.normalized[:, 2] < 0.05).all()
    assert (c_good.area < 0.1).all() and (c_bad.area > 0.85).all()


def test_deletion_curve_validates():
    model = RegionClassifier().eval()
    x = region_images()
    with pytest.raises(ValueError, match="maps must cover the inputs"):
        deletion_curve(model, x, torch.rand(3, 32, 32), 1, MeanInfiller())
    with pytest.raises(ValueError, match="strictly increasing"):
        deletion_curve(model, x, _box_map(), 1, MeanInfiller(), fractions=[0.5, 0.1])


def test_salient_box_and_baselines():
    m = torch.zeros(10, 20)
    m[2:5, 3:9] = 1
    assert salient_box(m, 0.5).tolist() == [3, 2, 9, 5]
    assert salient_box(torch.zeros(10, 20), 0.5).tolist() == [0, 0, 20, 10]
    assert max_box(10, 20).tolist() == [0, 0, 20, 10]
    c = center_box(100, 100)
    area = (c[2] - c[0]) * (c[3] - c[1])
    assert abs(area.item() - 5000) < 1 and abs(c[0].item() + c[2].item() - 100) < 1e-4


def test_wsl_error_and_alpha_choice():
    t, l, h, w = BOX
    gt = [torch.tensor([l, t, l + w, t + h])] * 3
    maps = _box_map() + 0.01 * torch.rand(3, 64, 64)
    assert wsl_error(maps, gt, threshold=0.5) == 0.0
    assert wsl_error(torch.ones(3, 64, 64), gt, threshold=0.5) == 1.0
    alpha = choose_alpha(maps, gt)
    assert wsl_error(maps, gt, alpha=alpha) == 0.0


def test_saliency_metric_rewards_small_confident_boxes():
    model = RegionClassifier().eval()
    x = region_images()
    t, l, h, w = BOX
    tight = torch.tensor([[l, t, l + w, t + h]] * 3, dtype=torch.float32)
    wrong = torch.tensor([[0, 40, 20, 60]] * 3, dtype=torch.float32)
    sm_tight = saliency_metric(model, x, tight, 1)
    sm_wrong = saliency_metric(model, x, wrong, 1)
    assert (sm_tight < sm_wrong).all()
    # Tight box: area 7.8%, confident -> close to log(0.078).
    assert torch.allclose(
        sm_tight,
        torch.full((3,), torch.log(torch.tensor(320 / 4096)).item()),
        atol=0.05,
    )


def test_map_outside_box():
    t, l, h, w = BOX
    gt = [torch.tensor([l, t, l + w, t + h])] * 3
    m = _box_map()
    assert torch.equal(map_outside_box(m, gt), torch.zeros(3))
    m2 = m.clone()
    m2[:, 0:16, 0:20] = 1.0  # as much outside as inside
    torch.testing.assert_close(map_outside_box(m2, gt), torch.full((3,), 0.5))


def test_mass_outside_box_known_shares():
    gt = [
        torch.tensor([0.0, 0.0, 4.0, 4.0]),
        torch.tensor([[0.0, 0.0, 2.0, 2.0], [6.0, 6.0, 8.0, 8.0]]),
    ]
    m = torch.zeros(2, 8, 8)
    m[0, :4, :4] = 3.0  # all mass in the box
    m[0, 7, 7] = 1.0  # a quarter of it outside
    m[1, :2, :2] = 0.5  # two boxes: both count as inside
    m[1, 6:, 6:] = 0.5
    torch.testing.assert_close(mass_outside_box(m, gt), torch.tensor([1 / 49, 0.0]))
    # Values below the MAP threshold still count; the MAP metric sees nothing.
    low = torch.full((1, 8, 8), 0.1)
    torch.testing.assert_close(mass_outside_box(low, gt[:1]), torch.tensor([0.75]))
    assert float(map_outside_box(low, gt[:1])[0]) == 0.0
    assert float(mass_outside_box(torch.zeros(1, 8, 8), gt[:1])[0]) == 0.0
    # (N, C, H, W) attributions: |.| averaged over channels, as everywhere.
    torch.testing.assert_close(
        mass_outside_box(-low[:, None].expand(1, 3, 8, 8), gt[:1]), torch.tensor([0.75])
    )
    with pytest.raises(ValueError, match="non-negative"):
        mass_outside_box(-low, gt[:1])


def test_stability():
    a = torch.rand(4, 8, 8)
    assert torch.allclose(stability([a, a, a]), torch.ones(4))
    s = stability(torch.rand(3, 4, 8, 8))
    assert (s.abs() < 0.5).all()


def test_deletion_curve_reports_suppression():
    model = RegionClassifier().eval()
    x = region_images()
    curve = deletion_curve(model, x, _box_map(), 1, MeanInfiller([0.0, 0.0, 0.0]))
    clean = model(x)
    # Clean log-odds 16 - log(1 + e^-16); fully in-filled with zeros -> -20.
    assert (curve.suppression > 30).all()
    torch.testing.assert_close(
        curve.log_odds[:, 0] - curve.log_odds[:, -1], curve.suppression
    )
    assert clean.shape == (3, 3)


def test_wsl_correct_on_boxes_of_known_iou():
    from captum_fido.metrics import wsl_correct

    gt = [torch.tensor([0.0, 0.0, 10.0, 10.0])] * 4
    pred = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0],  # IoU 1
            [0.0, 0.0, 10.0, 6.0],  # IoU 0.6
            [0.0, 0.0, 10.0, 5.0],  # IoU 0.5: not > 0.5
            [5.0, 0.0, 15.0, 10.0],  # IoU 50 / 150 = 1/3
        ]
    )
    assert wsl_correct(pred, gt).tolist() == [True, True, False, False]
    assert wsl_correct(pred, gt, iou=0.3).tolist() == [True] * 4
    # Any of several ground-truth boxes counts.
    two = [torch.tensor([[20.0, 20.0, 30.0, 30.0], [5.0, 0.0, 15.0, 10.0]])]
    assert wsl_correct(pred[3:], two).tolist() == [True]


def test_localisation_metrics_validate_boxes_and_maps():
    from captum_fido.metrics import wsl_correct

    maps = _box_map()
    with pytest.raises(ValueError, match=r"gt_boxes\[1\] must have shape"):
        wsl_error(
            maps,
            [
                torch.tensor([0.0, 0.0, 1.0, 1.0]),
                torch.zeros(2, 3),
                torch.tensor([0.0, 0.0, 1.0, 1.0]),
            ],
            1.0,
        )
    with pytest.raises(ValueError, match="gt_boxes must hold one entry per image"):
        map_outside_box(maps, [torch.tensor([0.0, 0.0, 1.0, 1.0])])
    with pytest.raises(TypeError, match="gt_boxes"):
        map_outside_box(maps, 5)
    with pytest.raises(ValueError, match="maps must have shape"):
        wsl_error(
            torch.rand(64, 64), [torch.tensor([0.0, 0.0, 1.0, 1.0])], threshold=0.5
        )
    with pytest.raises(ValueError, match="exactly one of alpha or threshold"):
        wsl_error(maps, [torch.tensor([0.0, 0.0, 1.0, 1.0])] * 3)
    with pytest.raises(ValueError, match="pred_boxes must have shape"):
        wsl_correct(torch.zeros(3, 5), [torch.tensor([0.0, 0.0, 1.0, 1.0])] * 3)
    model = RegionClassifier().eval()
    x = region_images()
    with pytest.raises(ValueError, match=r"boxes must have shape \(3, 4\)"):
        saliency_metric(model, x, torch.zeros(2, 4), 1)
    with pytest.raises(TypeError, match="boxes must be a torch.Tensor"):
        saliency_metric(model, x, [[0, 0, 1, 1]] * 3, 1)
    with pytest.raises(ValueError, match="output_type"):
        saliency_metric(
            model, x, torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 3), 1, output_type="raw"
        )


def test_saliency_metric_area_floor():
    # A whole-image box: area 1, log(1) = 0, SM = -log p; a one-pixel box is
    # floored at min_area.
    model = RegionClassifier().eval()
    x = region_images()
    whole = torch.tensor([[0.0, 0.0, 64.0, 64.0]] * 3)
    p = torch.sigmoid(
        torch.stack(
            [model(x)[i, 1] - torch.logsumexp(model(x)[i, [0, 2]], 0) for i in range(3)]
        )
    )
    torch.testing.assert_close(
        saliency_metric(model, x, whole, 1), -torch.log(p).float(), atol=1e-5, rtol=0
    )
    tiny = torch.tensor([[31.0, 11.0, 32.0, 12.0]] * 3)
    sm = saliency_metric(model, x, tiny, 1, min_area=0.05)
    assert (sm >= torch.log(torch.tensor(0.05)) - 1e-6).all()
