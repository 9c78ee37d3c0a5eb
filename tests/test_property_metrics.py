"""Property-based tests of the metrics over their input space: box geometry,
map shapes, dtypes and value ranges, targets (issue 20).

Each property has an oracle written independently of the implementation
(which boxes are valid, which targets exist, what a correlation must not
depend on), so a new class of failure shows up here rather than with users.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from captum_fido.infillers import MeanInfiller
from captum_fido.metrics import (
    deletion_curve,
    insertion_curve,
    map_outside_box,
    mass_outside_box,
    pointing_game,
    saliency_metric,
    spearman_correlation,
    stability,
    wsl_correct,
    wsl_error,
)

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)

#: Every device this machine has (CUDA when present).
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

coords = st.one_of(
    st.floats(min_value=-20, max_value=40, allow_nan=False, width=32),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0]),
)


def _valid(box, h, w) -> bool:
    r"""The documented rule, written independently: finite, non-empty and
    inside the image (edges may pass by float rounding only)."""
    x0, y0, x1, y1 = box
    if not all(math.isfinite(v) for v in box):
        return False
    return 0 <= x0 < x1 <= w + 1e-3 and 0 <= y0 < y1 <= h + 1e-3


class Classes(torch.nn.Module):
    r"""Three classes from the image's left-right brightness difference; any
    size, channel count and floating dtype."""

    def forward(self, x):
        w = x.shape[-1]
        s = 8.0 * (x[..., : max(1, w // 2)].mean((1, 2, 3)) - x.mean((1, 2, 3)))
        return torch.stack([s, -s, torch.zeros_like(s)], dim=1)


@st.composite
def maps_and_box(draw):
    h = draw(st.integers(2, 12))
    w = draw(st.integers(2, 12))
    n = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([torch.float16, torch.float32, torch.float64]))
    four_d = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    shape = (n, draw(st.sampled_from([1, 3])), h, w) if four_d else (n, h, w)
    maps = torch.rand(shape, generator=g).to(draw(st.sampled_from(DEVICES)), dtype)
    box = [draw(coords) for _ in range(4)]
    return maps, h, w, box


@FAST
@given(maps_and_box())
def test_box_metrics_accept_exactly_the_valid_boxes(case):
    maps, h, w, box = case
    n = maps.shape[0]
    valid = _valid(box, h, w)
    boxes = [torch.tensor(box)] * n
    for metric in (
        lambda: map_outside_box(maps, boxes),
        lambda: mass_outside_box(maps, boxes),
        lambda: pointing_game(maps, boxes).hits.float(),
        lambda: torch.tensor([wsl_error(maps, boxes, threshold=0.5)]),
    ):
        if valid:
            out = metric()
            assert bool(torch.isfinite(out).all())
            assert bool(((out >= 0) & (out <= 1)).all())
        else:
            with pytest.raises(ValueError, match="gt_boxes"):
                metric()


@FAST
@given(maps_and_box())
def test_saliency_metric_boxes_and_crops(case):
    maps, h, w, box = case
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    boxes = torch.tensor([box])
    if _valid(box, h, w):
        sm = saliency_metric(Classes(), x, boxes, 0)
        # SM = log(max(a, 0.05)) - log p: at least log(0.05), finite.
        assert bool(torch.isfinite(sm).all()) and float(sm[0]) >= math.log(0.05) - 1e-6
    else:
        with pytest.raises(ValueError, match="boxes"):
            saliency_metric(Classes(), x, boxes, 0)


@FAST
@given(
    st.integers(1, 3),
    st.lists(st.integers(-4, 6), min_size=1, max_size=3),
)
def test_targets_are_classes_of_the_model(n, picks):
    targets = [picks[i % len(picks)] for i in range(n)]
    x = torch.rand(n, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[0.0, 0.0, 6.0, 6.0]] * n)
    fill = MeanInfiller([0.5, 0.5, 0.5])
    ok = all(0 <= t < 3 for t in targets)
    calls = (
        lambda: saliency_metric(Classes(), x, boxes, targets),
        lambda: deletion_curve(
            Classes(), x, torch.rand(n, 6, 6), targets, fill, (0, 1)
        ),
        lambda: insertion_curve(
            Classes(), x, torch.rand(n, 6, 6), targets, fill, (0, 1)
        ),
    )
    for call in calls:
        if ok:
            call()
        else:
            with pytest.raises(ValueError, match="target out of range"):
                call()


@FAST
@given(maps_and_box(), st.sampled_from(["nan", "inf", "neg"]))
def test_bad_map_values_are_refused(case, kind):
    maps, h, w, _ = case
    bad = maps.clone()
    bad.view(-1)[0] = {"nan": float("nan"), "inf": float("inf"), "neg": -1.0}[kind]
    boxes = [torch.tensor([0.0, 0.0, float(w), float(h)])] * maps.shape[0]
    if kind == "neg":
        if bad.dim() == 3:  # 4-D maps are averaged in absolute value
            with pytest.raises(ValueError, match="non-negative"):
                mass_outside_box(bad, boxes)
    else:
        for metric in (map_outside_box, mass_outside_box, pointing_game):
            with pytest.raises(ValueError, match="NaN or infinite"):
                metric(bad, boxes)


@FAST
@given(
    st.integers(1, 3),
    st.integers(2, 30),
    st.integers(0, 2**16),
    st.floats(0.1, 10.0),
    st.floats(-5.0, 5.0),
    st.booleans(),
)
def test_correlations_ignore_offset_and_scale(n, p, seed, scale, shift, constant):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, p, generator=g, dtype=torch.float64)
    if constant:
        a[0] = 0.3  # one constant row: the convention must hold too
    b = torch.rand(n, p, generator=g, dtype=torch.float64)
    s = stability([a, b])
    assert bool(((s >= -1 - 1e-6) & (s <= 1 + 1e-6)).all())
    torch.testing.assert_close(stability([b, a]), s)  # symmetric
    torch.testing.assert_close(
        stability([scale * a + shift, b]), s, atol=1e-5, rtol=1e-5
    )
    assert bool((stability([a, scale * a + shift]) > 1 - 1e-5).all())
    rho = spearman_correlation(a, b)
    assert bool(((rho >= -1) & (rho <= 1)).all())
    torch.testing.assert_close(spearman_correlation(a.exp(), b), rho)  # monotone
    torch.testing.assert_close(spearman_correlation(b, a), rho)
    if constant:
        assert float(s[0]) == 0.0 and float(rho[0]) == 0.0
        assert float(stability([a, a + 1])[0]) == 1.0


@FAST
@given(
    st.integers(1, 2),
    st.integers(3, 8),
    st.sampled_from([torch.float32, torch.float64]),
    st.integers(0, 2**16),
)
def test_curves_are_normalised_at_their_ends(n, side, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    device = DEVICES[seed % len(DEVICES)]
    x = torch.rand(n, 3, side, side, generator=g).to(device, dtype)
    maps = torch.rand(n, side, side, generator=g).to(device, dtype)
    fill = MeanInfiller([0.0, 0.0, 0.0])
    fractions = (0.0, 0.5, 1.0)
    deletion = deletion_curve(Classes(), x, maps, 0, fill, fractions)
    insertion = insertion_curve(Classes(), x, maps, 0, fill, fractions)
    moves = deletion.suppression.abs() > 1e-3
    assume(bool(moves.all()))
    torch.testing.assert_close(deletion.normalized[:, 0], torch.ones(n))
    torch.testing.assert_close(deletion.normalized[:, -1], torch.zeros(n))
    torch.testing.assert_close(insertion.normalized[:, 0], torch.zeros(n))
    torch.testing.assert_close(insertion.normalized[:, -1], torch.ones(n))
    assert bool(torch.isfinite(deletion.area).all())


@FAST
@given(st.integers(1, 3), st.lists(coords, min_size=4, max_size=4))
def test_wsl_correct_without_a_size_checks_what_it_can(n, box):
    pred = torch.tensor([box] * n)
    gt = [torch.tensor([0.0, 0.0, 4.0, 4.0])] * n
    finite = all(math.isfinite(v) for v in box)
    ok = finite and 0 <= box[0] < box[2] and 0 <= box[1] < box[3]
    if ok:
        assert wsl_correct(pred, gt).shape == (n,)
    else:
        with pytest.raises(ValueError, match="pred_boxes"):
            wsl_correct(pred, gt)
