"""The comparison's mask methods under a preset (``compare --preset paper``)."""

from __future__ import annotations

import json

import pytest
import torch

from captum_fido import BBMP, FIDO
from captum_fido.cli import compare
from captum_fido.evaluation.methods import mask_methods
from captum_fido.infillers import BlurInfiller


def test_the_preset_reaches_every_mask_method(monkeypatch, region_model, region_x):
    seen = []

    def record(self, x, target=None, **options):
        seen.append((type(self).__name__, options))
        return torch.zeros_like(x)

    monkeypatch.setattr(FIDO, "attribute", record)
    monkeypatch.setattr(BBMP, "attribute", record)
    fills = {"Blur": BlurInfiller(2.0)}
    specs = mask_methods(
        fills, generative="Blur", bbmp_infillers=("Blur",), taus=(0.5,), preset="paper"
    )
    for spec in specs:
        spec.explain(region_model, region_x, torch.ones(3, dtype=torch.long), 0)
    assert [name for name, _ in seen] == ["FIDO", "FIDO", "BBMP", "BBMP"]
    assert all(options["preset"] == "paper" for _, options in seen)
    # Options given still override the preset, as in attribute.
    seen.clear()
    for spec in mask_methods(fills, bbmp_infillers=(), n_steps=7, preset="paper"):
        spec.explain(region_model, region_x, torch.ones(3, dtype=torch.long), 0)
    assert all(o["n_steps"] == 7 and o["preset"] == "paper" for _, o in seen)


def test_compare_records_the_preset_and_refuses_to_mix(tmp_path):
    argv = ["--n-images", "1", "--n-val", "0", "--n-stability", "0"]
    argv += ["--n-sanity", "0", "--methods", "saliency", "--out", str(tmp_path)]
    assert compare.main([*argv, "--preset", "paper"]) == 0
    assert json.loads((tmp_path / "settings.json").read_text())["preset"] == "paper"
    with pytest.raises(SystemExit):
        compare.main(argv)  # the folder holds rows made with --preset paper
