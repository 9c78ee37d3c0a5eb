"""Segment masks (``feature_mask``) for FIDO and BBMP."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import BOX, RegionClassifier, region_images

from captum_fido import BBMP, FIDO
from captum_fido.attr import MaskOptions
from captum_fido.infillers import MeanInfiller

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = 100  # the id of the segment that holds the model's evidence box


def _segments(size: int = 64) -> torch.Tensor:
    r"""16 blocks of 16 x 16 pixels, with the evidence box as its own segment."""
    rows = torch.arange(size).view(size, 1) // 16
    cols = torch.arange(size).view(1, size) // 16
    seg = (rows * 4 + cols).view(1, 1, size, size).clone()
    t, l, h, w = BOX
    seg[..., t : t + h, l : l + w] = EVIDENCE
    return seg


def _grey() -> MeanInfiller:
    return MeanInfiller([0.15, 0.15, 0.15])


@pytest.mark.parametrize(
    "make",
    [
        lambda m: FIDO(m, _grey(), objective="ssr"),
        lambda m: FIDO(m, _grey(), objective="sdr"),
        lambda m: BBMP(m, _grey()),
    ],
    ids=["fido-ssr", "fido-sdr", "bbmp"],
)
def test_the_segment_the_model_reads_is_marked(make):
    model, x = RegionClassifier().eval(), region_images(2)
    seg = _segments()
    attr = make(model).attribute(x, target=1, feature_mask=seg, n_steps=40, seed=0)
    assert attr.shape == x.shape
    evidence = (seg == EVIDENCE).expand_as(x)
    assert float(attr[evidence].min()) > 0.9
    assert float(attr[~evidence].max()) < 0.35


def test_maps_are_constant_within_segments():
    model, x = RegionClassifier().eval(), region_images(1)
    seg = _segments()
    attr = FIDO(model, _grey()).attribute(
        x, target=1, feature_mask=seg, n_steps=5, seed=0
    )
    for s in seg.unique():
        values = attr[(seg == s).expand_as(attr)]
        assert float(values.max() - values.min()) == 0.0


@pytest.mark.filterwarnings("ignore:.*returned collapsed maps:UserWarning")
def test_per_image_masks_and_details():
    model, x = RegionClassifier().eval(), region_images(2)
    seg = torch.cat([_segments(), torch.zeros(1, 1, 64, 64, dtype=torch.long)])
    attr, details = BBMP(model, _grey()).attribute(
        x, target=1, feature_mask=seg, n_steps=30, seed=0, return_details=True
    )
    # Image 0 sees 17 segments; image 1 one segment covering everything.
    assert details.mask_params[0].shape == (2, 1, 17)
    assert float(attr[1].max() - attr[1].min()) == 0.0
    evidence = (seg[:1] == EVIDENCE).expand_as(x[:1])
    assert float(attr[:1][evidence].min()) > 0.9
    # A batched call equals separate calls.
    alone = BBMP(model, _grey()).attribute(
        x[1:], target=1, feature_mask=seg[1:], n_steps=30, seed=0
    )
    torch.testing.assert_close(attr[1:], alone)


def _run_on_segments(seg, objective, **options):
    from captum_fido._utils.segments import segment_index
    from captum_fido.attr._loop import MaskProblem, _Run
    from captum_fido.attr._masks import RelaxedBernoulliMask, SegmentLayout

    x = region_images(1)
    problem = MaskProblem(
        forward_func=RegionClassifier().eval(),
        inputs=(x,),
        target=torch.ones(1, dtype=torch.long),
        additional_forward_args=None,
        infiller=_grey(),
        output_type="logits",
        objective=objective,
        layouts=(SegmentLayout(*segment_index(seg, x, "feature_mask")),),
        seed=0,
        clean_log_odds=torch.zeros(1),
    )
    return _Run(problem, RelaxedBernoulliMask(), MaskOptions(**options))


@pytest.mark.parametrize("objective", ["ssr", "sdr"])
def test_area_weights_segments_by_size_and_tv_counts_borders(objective):
    seg = torch.zeros(1, 1, 64, 64, dtype=torch.long)
    seg[..., :, 48:] = 1  # a quarter of the image
    keep = [torch.tensor([[[1.0, 0.0]]])]  # keep the big segment, drop the small
    run = _run_on_segments(seg, objective, l1_coeff=1.0, tv_coeff=0.0)
    area = float(run.regularisers(run.expected_masks(keep))) / 224**2
    assert area == pytest.approx(0.75 if objective == "ssr" else 0.25)
    run = _run_on_segments(seg, objective, l1_coeff=0.0, tv_coeff=1.0)
    tv = float(run.regularisers(run.expected_masks(keep))) / 224**2
    assert tv == pytest.approx(64 / 64**2)  # one border of 64 pixel pairs


def test_tv_is_off_by_default_on_segments_and_on_by_default_on_the_grid():
    seg = torch.zeros(1, 1, 64, 64, dtype=torch.long)
    seg[..., :, 48:] = 1
    keep = [torch.tensor([[[1.0, 0.0]]])]
    run = _run_on_segments(seg, "ssr", l1_coeff=0.0)  # tv_coeff left at None
    assert float(run.regularisers(run.expected_masks(keep))) == 0.0
    assert MaskOptions().effective_tv(on_grid=True) == 0.01
    assert MaskOptions().effective_tv(on_grid=False) == 0.0
    assert MaskOptions(tv_coeff=0.02).effective_tv(on_grid=False) == 0.02


def test_tuple_inputs_take_a_tuple_of_masks():
    def two_inputs(a, b):
        return RegionClassifier()(a) + 0.0 * b.mean()

    x = region_images(1)
    seg = _segments()
    attr = BBMP(two_inputs, _grey()).attribute(
        (x, x[:, :, :32, :32]),
        target=1,
        feature_mask=(seg, seg[..., :32, :32]),
        n_steps=2,
        seed=0,
    )
    assert attr[0].shape == x.shape and attr[1].shape == (1, 3, 32, 32)
    with pytest.raises(TypeError, match="tuple of 2 tensors"):
        BBMP(two_inputs, _grey()).attribute((x, x), target=1, feature_mask=seg)


@pytest.mark.parametrize(
    "mask, error, match",
    [
        (torch.zeros(1, 1, 60, 64, dtype=torch.long), ValueError, "broadcast"),
        (torch.zeros(3, 1, 64, 64, dtype=torch.long), ValueError, "broadcast"),
        (torch.zeros(1, 1, 64, 64), TypeError, "integer segment ids"),
        (torch.zeros(1, 1, 64, 64, dtype=torch.bool), TypeError, "integer"),
        (-torch.ones(1, 1, 64, 64, dtype=torch.long), ValueError, "negative"),
        ([[0, 1]], TypeError, "integer tensor"),
        (torch.zeros(1, 1, 1, 64, 64, dtype=torch.long), ValueError, "at most 4"),
        (
            torch.arange(3).view(1, 3, 1, 1).expand(1, 3, 64, 64),
            ValueError,
            "channels of a pixel",
        ),
    ],
    ids=[
        "height",
        "batch",
        "float",
        "bool",
        "negative",
        "list",
        "5d",
        "per-channel",
    ],
)
def test_bad_feature_masks_raise(mask, error, match):
    model, x = RegionClassifier().eval(), region_images(2)
    with pytest.raises(error, match=match):
        FIDO(model, _grey()).attribute(x, target=1, feature_mask=mask, n_steps=1)


def test_mask_size_and_feature_mask_exclude_each_other():
    seg = _segments()
    with pytest.raises(ValueError, match="exclude each other"):
        MaskOptions(mask_size=8, feature_mask=seg)
    model, x = RegionClassifier().eval(), region_images(1)
    with pytest.raises(ValueError, match="exclude each other"):
        BBMP(model, _grey()).attribute(x, target=1, mask_size=8, feature_mask=seg)


def test_masks_broadcast_in_captums_forms():
    model, x = RegionClassifier().eval(), region_images(2)
    seg = _segments()
    kwargs = dict(target=1, n_steps=3, seed=0)
    ref = BBMP(model, _grey()).attribute(x, feature_mask=seg, **kwargs)
    for form in (seg[0, 0], seg[0], seg.expand(2, 3, 64, 64).int()):
        out = BBMP(model, _grey()).attribute(x, feature_mask=form, **kwargs)
        torch.testing.assert_close(out, ref)


def _load_example():
    spec = importlib.util.spec_from_file_location(
        "slic_segments", ROOT / "examples" / "slic_segments.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slic_example_runs_quickly(tmp_path):
    pytest.importorskip("skimage")
    pytest.importorskip("torchvision")
    out = tmp_path / "slic.png"
    assert _load_example().main(["--out", str(out), "--steps", "2"]) == 0
    assert out.exists() and out.stat().st_size > 0


@pytest.mark.slow
def test_slic_example_runs_as_a_script(tmp_path):
    pytest.importorskip("skimage")
    out = tmp_path / "slic.png"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "slic_segments.py"),
            "--out",
            str(out),
        ],
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.exists() and out.stat().st_size > 0
