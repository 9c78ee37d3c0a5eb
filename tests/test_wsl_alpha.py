"""WSL error of FIDO and BBMP maps at one rule with the other methods
(``wsl_error_alpha``: the threshold ``alpha * mean`` chosen on the val
images), beside the paper's 0.5 (issue 22, the WSL anomaly): a map that ranks
the object's pixels first but never reaches 0.5 has an empty MAP mask, so at
0.5 its box is the whole image."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn

from captum_fido.evaluation import ComparisonSettings, EvalData, run_comparison
from captum_fido.evaluation.methods import MethodSpec
from captum_fido.evaluation.report import (
    per_image_values,
    summarise,
    write_results,
    write_table,
)
from captum_fido.metrics import DEFAULT_ALPHAS

BOX = [2.0, 3.0, 10.0, 12.0]  # 8 x 9 pixels of a 16 x 16 image: IoU 0.28 with it


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x.mean(dim=(2, 3)))


def _data(n: int = 6) -> EvalData:
    g = torch.Generator().manual_seed(0)
    return EvalData(
        torch.rand(n, 3, 16, 16, generator=g),
        torch.arange(n) % 3,
        torch.tensor([BOX]).repeat(n, 1),
        list(range(n)),
        ["val" if i < 2 else "test" for i in range(n)],
    )


def _low_map(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
    r"""0.4 on the object's box, 0.02 elsewhere: the right pixels first, none
    above 0.5 (as FIDO-SSR's keep probabilities with the in-painter at a
    small fixed sparsity weight)."""
    maps = torch.full((x.shape[0], 16, 16), 0.02)
    maps[:, 3:12, 2:10] = 0.4
    return maps


SETTINGS = ComparisonSettings(
    fractions=(0.0, 1.0), n_stability=0, n_sanity=0, preview=0, show_progress=False
)


def _rows(tmp_path: Path) -> list:
    specs = [
        MethodSpec("low FIDO map", "fido-ssr", None, _low_map, probabilistic=True),
        MethodSpec("low other map", "captum", None, _low_map, probabilistic=False),
    ]
    return run_comparison(
        _Net().eval(), _data(), specs, {}, tmp_path / "rows.csv", SETTINGS
    )


def test_a_map_below_one_half_is_localised_by_the_alpha_rule(tmp_path):
    rows = _rows(tmp_path)
    fido = [r for r in rows if r["method"] == "low FIDO map"]
    # 0.5 first, then every alpha, for probabilistic maps.
    assert {len(str(r["wsl_by_threshold"])) for r in fido} == {1 + len(DEFAULT_ALPHAS)}
    summaries = {s.method: s for s in summarise(rows)}
    s = summaries["low FIDO map"]
    # At 0.5 nothing passes: the whole image, IoU 0.28, wrong on every image.
    assert s.threshold == "theta=0.5"
    assert s.values["wsl_error"][0] == 1.0
    # At alpha * mean the box is the object's own: right on every image.
    assert s.values["wsl_error_alpha"][:2] == (0.0, 0.0)
    assert s.alpha_threshold == "alpha=0"
    assert s.index("wsl_error_alpha") == 1 and s.index("wsl_error") == 0
    test = [r for r in fido if r["split"] == "test"]
    assert set(per_image_values(test, "wsl_error_alpha", 1).values()) == {0.0}
    # Other maps: one rule already, the two columns agree.
    other = summaries["low other map"]
    assert other.values["wsl_error_alpha"] == other.values["wsl_error"]
    assert other.alpha_threshold == other.threshold


def test_table_and_results_show_both_rules(tmp_path):
    summaries = summarise(_rows(tmp_path))
    table = write_table(summaries, tmp_path / "table.md").read_text()
    assert "| WSL err % | WSL err % (alpha) |" in table
    assert "| low FIDO map | 100.0 [100.0, 100.0] | 0.0 [0.0, 0.0] |" in table
    results = write_results(summaries, tmp_path / "results.csv").read_text()
    header = results.splitlines()[0].split(",")
    assert "wsl_alpha_threshold" in header and "wsl_error_alpha" in header


def test_rows_without_alphas_keep_their_numbers(tmp_path):
    # Rows written before the alphas were scored (one flag for 0.5): the
    # paper's column is unchanged and the alpha column is empty, not wrong.
    rows = [
        {
            "image_id": i,
            "split": "val" if i < 2 else "test",
            "method": "old FIDO",
            "family": "fido-ssr",
            "wsl_by_threshold": "1" if i % 2 else "0",
            "sm_by_threshold": "0.5",
        }
        for i in range(6)
    ]
    (s,) = summarise(rows)
    assert s.values["wsl_error"][0] == 0.5
    assert math.isnan(s.values["wsl_error_alpha"][0])
    assert s.alpha_threshold == "" and s.index("wsl_error_alpha") == -1
    table = write_table([s], tmp_path / "t.md").read_text()
    assert "| old FIDO | 50.0 [" in table and "| – |" in table
