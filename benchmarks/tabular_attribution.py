r"""Attribution of relied-on vs ignored features on tabular data, with CIs.

Two known answers:

- *synthetic*: 6 independent standard-normal features; class 1's logit is
  ``3 x0 + x2`` (x1, x3, x4, x5 ignored). Rows have ``x0 = 2`` (the evidence)
  and the rest drawn at 0.3 scale.
- *breast cancer*: a logistic model trained on the standardised data with the
  weights of 20 of the 30 features held at exactly 0 (it may use features 0,
  3, 6, ..., 27).

For every method and in-filler, FIDO/BBMP explain ``--rows`` rows under
``--seeds`` seeds; a row's value is its mean over seeds, and the table gives
the mean over rows with a 95% bootstrap interval over rows
(:func:`captum_fido.evaluation.report.bootstrap_ci`).

Writes ``docs/results/tabular/attribution.json`` and prints a Markdown table.
Run:  python benchmarks/tabular_attribution.py [--rows 20] [--seeds 3]
(``--quick``: 4 rows, 1 seed, 10 steps, written under ``outputs/quick/``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from _runner import benchmark_parser, parse, settings, write_json
from torch import Tensor, nn

from captum_fido import BBMP, FIDO
from captum_fido.evaluation.report import bootstrap_ci
from captum_fido.infillers import (
    FeatureMeanInfiller,
    GaussianConditionalInfiller,
    NearestNeighbourInfiller,
)

ROOT = Path(__file__).resolve().parents[1]
INFILLERS: Dict[str, Callable[[], Any]] = {
    "Gaussian-conditional": GaussianConditionalInfiller,
    "nearest-neighbour": NearestNeighbourInfiller,
    "feature mean": FeatureMeanInfiller,
}
#: (method, objective, in-filler) combinations; BBMP-SDR with a conditional
#: in-filler is left out: it never leaves "keep everything" (docs/tabular.md).
CONFIGS: List[Tuple[Any, str, str]] = [
    (FIDO, objective, name) for objective in ("sdr", "ssr") for name in INFILLERS
] + [(BBMP, "ssr", "Gaussian-conditional"), (BBMP, "sdr", "feature mean")]


def _synthetic(n_rows: int) -> Tuple[Any, Tensor, Tensor, Tensor, Dict[str, Tensor]]:
    weights = torch.tensor([3.0, 0.0, 1.0, 0.0, 0.0, 0.0])

    def model(x: Tensor) -> Tensor:
        s = x @ weights
        return torch.stack([torch.zeros_like(s), s], dim=1)

    train = torch.randn(1000, 6, generator=torch.Generator().manual_seed(0))
    rows = 0.3 * torch.randn(n_rows, 6, generator=torch.Generator().manual_seed(1))
    rows[:, 0] = 2.0
    groups = {
        "relied-on x0": torch.tensor([0]),
        "weak x2": torch.tensor([2]),
        "ignored x1,x3-x5": torch.tensor([1, 3, 4, 5]),
    }
    return model, train, rows, torch.ones(n_rows, dtype=torch.long), groups


def _breast_cancer(
    n_rows: int,
) -> Tuple[Any, Tensor, Tensor, Tensor, Dict[str, Tensor]]:
    spec = importlib.util.spec_from_file_location(
        "tabular_breast_cancer", ROOT / "examples" / "tabular_breast_cancer.py"
    )
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    x_tr, y_tr, x_te, y_te, _ = example.load_data()
    used = torch.arange(0, 30, 3)
    mask = torch.zeros(2, 30)
    mask[:, used] = 1.0
    torch.manual_seed(0)
    model = nn.Linear(30, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        model.weight.data.mul_(mask)
        nn.functional.cross_entropy(model(x_tr), y_tr).backward()
        opt.step()
    model.weight.data.mul_(mask)
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x_te).argmax(1) == y_te).float().mean())
    print(f"breast cancer: masked logistic model, test accuracy {accuracy:.3f}")
    unused = torch.tensor([i for i in range(30) if i not in set(used.tolist())])
    groups = {"used (10)": used, "zero-weight (20)": unused}
    return model, x_tr, x_te[:n_rows], y_te[:n_rows], groups


def _evaluate(
    task: str,
    data: Tuple[Any, Tensor, Tensor, Tensor, Dict[str, Tensor]],
    args: argparse.Namespace,
    l1_coeff: float,
) -> List[Dict[str, Any]]:
    model, train, rows, labels, groups = data
    results = []
    for cls, objective, name in CONFIGS:
        fill = INFILLERS[name]().fit(train)
        method = cls(model, fill, objective=objective)
        t0 = time.perf_counter()
        maps = torch.stack(
            [
                method.attribute(
                    rows, target=labels, n_steps=args.steps, l1_coeff=l1_coeff, seed=s
                )
                for s in range(args.seeds)
            ]
        ).mean(dim=0)
        row: Dict[str, Any] = {
            "task": task,
            "method": f"{cls.__name__}-{objective.upper()}",
            "infiller": name,
            "l1_coeff": l1_coeff,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        for group, index in groups.items():
            per_row = maps[:, index].mean(dim=1).tolist()
            row[group] = [round(v, 3) for v in bootstrap_ci(per_row)]
        print(json.dumps(row), flush=True)
        results.append(row)
    return results


def _table(results: List[Dict[str, Any]]) -> str:
    lines = []
    for task in dict.fromkeys(r["task"] for r in results):
        rows = [r for r in results if r["task"] == task]
        groups = [k for k in rows[0] if isinstance(rows[0][k], list)]
        lines += [
            f"\n{task} (l1_coeff {rows[0]['l1_coeff']:g}):\n",
            "| method | in-filler | " + " | ".join(groups) + " |",
            "|---|---|" + "---|" * len(groups),
        ]
        for r in rows:
            cells = [
                f"{m:.2f} [{lo:.2f}, {hi:.2f}]" for m, lo, hi in (r[g] for g in groups)
            ]
            lines.append(
                f"| {r['method']} | {r['infiller']} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = benchmark_parser(
        __doc__, out="docs/results/tabular/attribution.json", out_help="results JSON"
    )
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    quick_out = Path("outputs/quick/tabular_attribution.json")
    args = parse(parser, argv, quick=dict(rows=4, seeds=1, steps=10, out=quick_out))
    t0 = time.perf_counter()
    results = _evaluate("synthetic", _synthetic(args.rows), args, 2e-5)
    results += _evaluate("breast cancer", _breast_cancer(args.rows), args, 3e-5)
    info = {
        "args": settings(args),
        "seconds": round(time.perf_counter() - t0),
        "runs": results,
    }
    print(_table(results))
    write_json(args.out, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
