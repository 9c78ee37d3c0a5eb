"""The comparison's verdict, its cost estimate and its map figure, with known
answers."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from captum_fido.evaluation import ComparisonSettings, EvalData, MethodSpec
from captum_fido.evaluation.cost import estimate_cost, format_seconds
from captum_fido.evaluation.figure import plot_map_grid, show_map
from captum_fido.evaluation.harness import preview_path, read_rows, run_comparison
from captum_fido.evaluation.methods import captum_methods, mask_methods
from captum_fido.evaluation.verdict import (
    compare_verdict,
    format_verdict,
    metric_directions,
    write_verdict,
)
from captum_fido.infillers import MeanInfiller, NoisyLinearInfiller
from tests.conftest import BOX, RegionClassifier, region_images

N = 12


def _rows(method, family, outside, insertion, status="ok"):
    return [
        {
            "image_id": i,
            "split": "test",
            "method": method,
            "family": family,
            "outside_mass": outside[i],
            "insertion_road": insertion[i],
            "suppression_road": 5.0,  # curves count where the log-odds move
            "map_status": status,
        }
        for i in range(N)
    ]


def _comparison():
    # A: best outside mass; B: as good within noise (paired differences of
    # +0.05 / -0.04 straddle 0); C: clearly worse; D: empty maps, which score
    # the best outside mass of all and must never be ranked.
    wiggle = [0.05 if i % 2 == 0 else -0.04 for i in range(N)]
    a = [0.2] * N
    b = [0.2 + w for w in wiggle]
    c = [0.7] * N
    d = [0.0] * N
    return (
        _rows("A", "fido-ssr", a, [0.8] * N)
        + _rows("B", "fido-ssr", b, [0.6] * N)
        + _rows("C", "captum", c, [0.9 + 0.01 * (i % 2) for i in range(N)])
        + _rows("D", "bbmp-ca", d, [0.95] * N, status="empty")
    )


def test_verdict_known_answers():
    verdict = compare_verdict(_comparison())
    outside = verdict.metric("outside_mass")
    assert outside.lower_is_better
    assert outside.best == "A" and outside.tied == ("B",) and outside.worse == ("C",)
    assert outside.n_images == N
    mean, low, high, n = outside.differences["C"]
    assert (mean, n) == (pytest.approx(0.5), N) and low > 0
    # Higher is better for insertion: C leads, and D's 0.95 does not count.
    insertion = verdict.metric("insertion_road")
    assert not insertion.lower_is_better
    assert insertion.best == "C" and insertion.worse == ("A", "B")
    assert verdict.flagged == ("D",)
    assert verdict.statuses["D"]["empty"] == N
    assert all(m != "D" for m, *_ in verdict.ranking)
    # A, B and C are each in the top group on one of the two metrics; the
    # mean position breaks the tie: A (1 + 2) / 2 < C (3 + 1) / 2 < B (2 + 3) / 2.
    assert [m for m, *_ in verdict.ranking] == ["A", "C", "B"]
    assert verdict.ranking[0][1:3] == (1, 2)


def test_verdict_text_names_direction_flags_and_evidence(tmp_path):
    verdict = compare_verdict(_comparison())
    text = format_verdict(verdict, "toy")
    assert text.startswith("# Verdict: toy")
    assert "| map mass outside box | lower | A 0.200" in text
    assert "| insertion (road) | higher | C " in text
    assert "- D: 12 of 12 maps empty: not ranked" in text
    assert "rest on 12 test images" in text
    path = write_verdict(verdict, tmp_path / "out" / "verdict.md", "toy")
    assert path.read_text() == text
    assert sorted(p.name for p in path.parent.iterdir()) == ["verdict.md"]


def test_verdict_allows_a_share_of_collapsed_maps_when_asked():
    rows = _comparison()
    for r in rows:
        if r["method"] == "B" and r["image_id"] == 0:
            r["map_status"] = "flooded"
    assert "B" in compare_verdict(rows).flagged
    assert "B" not in compare_verdict(rows, max_collapsed=0.1).flagged
    with pytest.raises(ValueError, match="max_collapsed"):
        compare_verdict(rows, max_collapsed=1.0)
    with pytest.raises(ValueError, match="test rows"):
        compare_verdict([{**r, "split": "val"} for r in rows])


def test_metric_directions_cover_the_curves():
    rows = [{"deletion_road": 0.1, "insertion_inpainter": 0.2}]
    found = {k: lower for k, _, lower in metric_directions(rows)}
    assert found["deletion_road"] and not found["insertion_inpainter"]
    assert found["wsl_error"] and not found["pointing"]


def _fixed(value):
    def explain(model, x, y, seed):
        maps = torch.zeros(x.shape[0], *x.shape[2:])
        if value == "box":
            t, l, h, w = BOX
            maps[:, t : t + h, l : l + w] = 1.0
        else:
            maps += value
        return maps

    return explain


def test_harness_records_map_status_and_takes_unit_costs(tmp_path):
    x = region_images(3)
    data = EvalData(
        x,
        torch.ones(3, dtype=torch.long),
        torch.tensor([[30, 10, 50, 26]] * 3).float(),
        [0, 1, 2],
        ["test"] * 3,
    )
    specs = [
        MethodSpec("zeros", "captum", None, _fixed(0.0), False),
        MethodSpec("ones", "captum", None, _fixed(1.0), False),
        MethodSpec("box", "captum", None, _fixed("box"), False),
    ]
    settings = ComparisonSettings(n_stability=0, n_sanity=0, show_progress=False)
    out = tmp_path / "rows.csv"
    costs = {"zeros": 1.0, "ones": 2.0, "box": 3.0, "baselines": 0.5}
    run_comparison(
        RegionClassifier(),
        data,
        specs,
        {"road": NoisyLinearInfiller()},
        out,
        settings,
        unit_seconds=costs,
    )
    status = {
        (r["method"], r["image_id"]) for r in read_rows(out) if r.get("map_status")
    }
    rows = read_rows(out)
    got = {r["method"]: r["map_status"] for r in rows if r["method"] in costs}
    assert got == {"zeros": "empty", "ones": "flooded", "box": "ok"}
    assert len(status) == 9
    verdict = compare_verdict(rows)
    assert verdict.flagged == ("zeros", "ones")
    assert verdict.metric("outside_mass").best == "box"


def test_cost_estimate_counts_what_is_left():
    x = region_images(2)
    data = EvalData(
        x,
        torch.ones(2, dtype=torch.long),
        torch.tensor([[30, 10, 50, 26]] * 2).float(),
        [0, 1],
        ["test"] * 2,
    )
    fills = {"Mean": MeanInfiller()}
    specs = (
        captum_methods(lambda m: m)[:1]
        + mask_methods(fills, 50, 1e-3, bbmp_infillers=())[:1]
    )
    names = [s.name for s in specs]
    assert names == ["Saliency", "FIDO-SSR (Mean)"]
    settings = ComparisonSettings(n_stability=0, n_sanity=0, show_progress=False)
    model, evals = RegionClassifier(), {"road": NoisyLinearInfiller()}
    torch.manual_seed(3)
    before = torch.rand(1)
    torch.manual_seed(3)
    estimate = estimate_cost(
        model,
        data,
        specs,
        evals,
        settings,
        infillers=fills,
        n_steps=50,
        done={(0, "Saliency")},
    )
    # The timing leaves torch's global random state as it found it.
    assert torch.equal(torch.rand(1), before)
    assert estimate.todo == {"Saliency": 1, "FIDO-SSR (Mean)": 2, "baselines": 2}
    total = sum(estimate.unit_seconds[k] * n for k, n in estimate.todo.items())
    assert estimate.total_seconds == pytest.approx(total)
    assert estimate.total_seconds > 0 and "2 methods" in estimate.describe()
    everything = {
        (i, n)
        for i in (0, 1)
        for n in [*names, "Max (whole image)", "Center (half area)"]
    }
    nothing = estimate_cost(model, data, specs, evals, settings, done=everything)
    assert nothing.total_seconds == 0
    assert "nothing to do" in nothing.describe()
    with pytest.raises(ValueError, match="no \\['Blur'\\]"):
        estimate_cost(
            model,
            data,
            mask_methods({"Blur": MeanInfiller()}, 5, 1e-3, bbmp_infillers=())[:1],
            evals,
            infillers=fills,
            n_steps=5,
        )


def test_format_seconds():
    assert [format_seconds(s) for s in (42, 720, 12600)] == ["42 s", "12 min", "3.5 h"]
    assert format_seconds(math.nan) == "unknown"


def test_map_grid_is_methods_by_images_with_one_scale(tmp_path):
    images = torch.rand(3, 3, 16, 16)
    boxes = torch.tensor([[2.0, 2.0, 10.0, 10.0]] * 3)
    methods = [f"method {k}" for k in range(6)]
    for k, method in enumerate(methods[:5]):  # method 5: no map saved
        for i in range(3):
            path = preview_path(tmp_path / "preview", method, i)
            path.parent.mkdir(exist_ok=True)
            torch.save(torch.full((16, 16), k / 4), path)
    out = plot_map_grid(
        images, boxes, [0, 1, 2], methods, tmp_path / "preview", tmp_path / "m.png"
    )
    assert out == tmp_path / "m.png"
    width, height = Image.open(out).size
    # Five method rows and the image row, three image columns: taller than
    # wide, and every cell (about 1.2 inches at 100 dpi) keeps its size.
    assert height > width and 6 * 100 < height < 6 * 160
    assert (
        plot_map_grid(
            images, boxes, [0, 1, 2], ["none"], tmp_path / "preview", tmp_path / "n.png"
        )
        is None
    )
    with pytest.raises(ValueError, match="one entry per image"):
        plot_map_grid(
            images[:2], boxes, [0, 1, 2], methods, tmp_path, tmp_path / "x.png"
        )


def test_show_map_uses_one_scale_and_checks_its_input():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    a = show_map(axes[0], torch.full((8, 8), 0.2))
    b = show_map(axes[1], torch.full((8, 8), 0.9))
    assert a.get_clim() == b.get_clim() == (0.0, 1.0)
    assert a.get_cmap().name == b.get_cmap().name
    assert [t.get_text() for t in axes[1].texts] == ["flooded"]
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        show_map(axes[0], torch.rand(1, 8, 8))
    plt.close(fig)
