r"""Why FIDO-SSR with the in-painter had a WSL error of 75% against 41% with
Blur on scenes while its map mass outside the box was the same (issue 22).

FIDO-SSR with Blur and with the shipped in-painter on the first ``--n`` test
scenes (and ``--n-val`` validation scenes, which choose the alpha of the
second WSL rule), at the reproduction report's settings (80 steps x 4
samples, ``l1_coeff=1e-4``) and at FIDO's defaults (72 x 4, adaptive weight),
scored by :func:`captum_fido.evaluation.run_comparison` (no curves). Per map
it also records

- ``max``: the map's largest keep probability, and ``above_half``: the share
  of pixels above 0.5 (the MAP mask the paper's WSL rule boxes);
- ``p_samples``: the classifier's confidence in the true class on the image
  in-filled (by the method's own in-filler) under 8 Bernoulli draws of the
  map, the quantity FIDO-SSR optimises; ``p_mode``: the same under the MAP
  mask (``map > 0.5``); ``p_none``: with nothing kept.

Writes ``--out``/per_image.csv, summary.json and table.md (means with 95%
bootstrap intervals, paired differences in-painter minus Blur).

Usage::

    python benchmarks/wsl_anomaly.py            # 8 test + 8 val scenes
    python benchmarks/wsl_anomaly.py --quick    # 2 + 2, outputs/
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from captum_fido._utils.files import write_text_atomic
from captum_fido.demo.domains import comparison_data, load_domain
from captum_fido.demo.infillers import demo_infillers
from captum_fido.evaluation import EvalData, run_comparison
from captum_fido.evaluation.harness import ComparisonSettings, write_rows
from captum_fido.evaluation.methods import MethodSpec, mask_methods
from captum_fido.evaluation.report import (
    bootstrap_ci,
    paired_difference,
    per_image_values,
    summarise,
)
from captum_fido.infillers import Infiller
from captum_fido.metrics import confidence_under_masks

Row = Dict[str, object]
#: The reproduction report's runs (docs/results/scenes/settings.json).
REPORT = {"n_steps": 80, "n_samples": 4, "l1_coeff": 1e-4}
FILLS = ("Blur", "Inpainter")
EXTRAS = ("max", "above_half", "p_samples", "p_mode", "p_none")


def _specs(fills: Dict[str, Infiller]) -> List[Tuple[MethodSpec, str]]:
    r"""FIDO-SSR with each fill at the report's settings, then at the defaults."""
    out = []
    for setting, options in (("report", REPORT), ("defaults", {})):
        chosen = {k: fills[k] for k in FILLS}
        for spec in mask_methods(chosen, bbmp_infillers=(), **options):  # type: ignore[arg-type]
            if spec.family == "fido-ssr":
                name = f"{spec.name}, {setting}"
                out.append(
                    (
                        MethodSpec(
                            name, spec.family, spec.infiller, spec.explain, True
                        ),
                        str(spec.infiller),
                    )
                )
    return out


def _recording(
    spec: MethodSpec,
    fill: Infiller,
    data: EvalData,
    extras: Dict[Tuple[int, str], Dict[str, float]],
    draws: int,
) -> MethodSpec:
    r"""The spec, recording each map's extras by (image id, method)."""

    def explain(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        maps = spec.explain(model, x, y, seed).clamp(0, 1)
        keep = maps[:, None]
        g = torch.Generator().manual_seed(seed)
        p_samples = torch.stack(
            [
                confidence_under_masks(
                    model,
                    x,
                    y,
                    fill,
                    (torch.rand(keep.shape, generator=g) < keep).float(),
                )
                for _ in range(draws)
            ]
        ).mean(0)
        p_mode = confidence_under_masks(model, x, y, fill, (keep > 0.5).float())
        p_none = confidence_under_masks(model, x, y, fill, torch.zeros_like(keep))
        for i, row in enumerate(x):
            # The harness may retry image by image: find each row's image.
            k = next(k for k, im in enumerate(data.images) if torch.equal(im, row))
            extras[(int(data.image_ids[k]), spec.name)] = {
                "max": float(maps[i].max()),
                "above_half": float((maps[i] > 0.5).float().mean()),
                "p_samples": float(p_samples[i]),
                "p_mode": float(p_mode[i]),
                "p_none": float(p_none[i]),
            }
        return maps

    return MethodSpec(spec.name, spec.family, spec.infiller, explain, True)


def _ci(values: Sequence[float]) -> List[float]:
    finite = [v for v in values if not math.isnan(v)]
    return [*bootstrap_ci(finite), len(finite)]


def summary_of(rows: Sequence[Row]) -> Dict[str, Dict[str, object]]:
    r"""Per method: WSL error at 0.5 and at the alpha chosen on the val
    rows, mass outside the box, maps whose values all stay below 0.5, and
    the extras; then paired differences in-painter minus Blur per setting."""
    summaries = {s.method: s for s in summarise(rows)}
    out: Dict[str, Dict[str, object]] = {}
    for method, s in summaries.items():
        if s.family == "baseline":
            continue
        test = [r for r in rows if r["method"] == method and r["split"] == "test"]
        entry: Dict[str, object] = {
            "n_images": len(test),
            "alpha": s.alpha_threshold,
            "below_half": sum(float(str(r["max"])) <= 0.5 for r in test),
        }
        for key in ("wsl_error", "wsl_error_alpha", "outside_mass"):
            entry[key] = list(s.values[key])
        for key in EXTRAS:
            entry[key] = _ci([float(str(r[key])) for r in test])
        out[method] = entry
    for setting in ("report", "defaults"):
        a, b = (f"FIDO-SSR ({f}), {setting}" for f in ("Inpainter", "Blur"))
        if a not in summaries or b not in summaries:
            continue
        diffs: Dict[str, object] = {}
        for key in ("wsl_error", "wsl_error_alpha", "outside_mass"):
            ka, kb = summaries[a].index(key), summaries[b].index(key)
            rows_a = [r for r in rows if r["method"] == a and r["split"] == "test"]
            rows_b = [r for r in rows if r["method"] == b and r["split"] == "test"]
            diffs[key] = list(
                paired_difference(
                    per_image_values(rows_a, key, ka), per_image_values(rows_b, key, kb)
                )
            )
        out[f"Inpainter - Blur, {setting}"] = diffs
    return out


def _cell(v: Sequence[float], digits: int = 2) -> str:
    if math.isnan(v[0]):
        return "–"
    return f"{v[0]:.{digits}f} [{v[1]:.{digits}f}, {v[2]:.{digits}f}]"


def table(summary: Dict[str, Dict[str, object]]) -> str:
    r"""Markdown: one row per method, then the paired differences."""
    lines = [
        "| method | WSL error (0.5) | WSL error (alpha on val) | mass outside box "
        "| maps with max <= 0.5 | max | share > 0.5 | p, 8 draws of the map "
        "| p, MAP mask | p, nothing kept |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, e in summary.items():
        if " - " in method:
            continue
        entry = dict(e)  # type: ignore[call-overload]
        lines.append(
            f"| {method} | {_cell(entry['wsl_error'])} | "
            f"{_cell(entry['wsl_error_alpha'])} ({entry['alpha']}) | "
            f"{_cell(entry['outside_mass'])} | {entry['below_half']} of "
            f"{entry['n_images']} | {_cell(entry['max'])} | "
            f"{_cell(entry['above_half'], 3)} | {_cell(entry['p_samples'])} | "
            f"{_cell(entry['p_mode'])} | {_cell(entry['p_none'])} |"
        )
    lines += ["", "| paired difference | WSL error (0.5) | WSL error (alpha) "]
    lines[-1] += "| mass outside box |"
    lines.append("|---|---|---|---|")
    for method, e in summary.items():
        if " - " not in method:
            continue
        entry = dict(e)  # type: ignore[call-overload]
        cells = [
            f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] (n={d[3]})"
            for d in (
                entry[k] for k in ("wsl_error", "wsl_error_alpha", "outside_mass")
            )
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=8, help="test scenes")
    p.add_argument("--n-val", type=int, default=8, help="val scenes (alpha)")
    p.add_argument("--draws", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("docs/results/wsl_anomaly"))
    p.add_argument("--work", type=Path, default=Path("outputs/wsl_anomaly"))
    p.add_argument("--quick", action="store_true", help="2 + 2 scenes, outputs/")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.n, args.n_val, args.draws = 2, 2, 2
        args.out = Path("outputs/wsl_anomaly_quick")
        args.work = args.out / "work"
    started = time.time()
    domain = load_domain("scenes")
    model = domain.load_classifier()
    data = comparison_data(domain, args.n, args.n_val)
    fills = demo_infillers()
    extras: Dict[Tuple[int, str], Dict[str, float]] = {}
    extras_file = args.work / "extras.json"
    args.work.mkdir(parents=True, exist_ok=True)
    if extras_file.is_file():
        for key, value in json.loads(extras_file.read_text()).items():
            image_id, name = key.split("|", 1)
            extras[(int(image_id), name)] = value
    settings = ComparisonSettings(
        n_stability=0, n_sanity=0, preview=0, show_progress=False
    )
    out_csv = args.work / "per_image.csv"
    rows: List[Row] = []
    for spec, fill_name in _specs(fills):
        rows = run_comparison(
            model,
            data,
            [_recording(spec, fills[fill_name], data, extras, args.draws)],
            {},
            out_csv,
            settings,
        )
        write_text_atomic(
            extras_file,
            json.dumps({f"{i}|{n}": v for (i, n), v in sorted(extras.items())}),
        )
    for r in rows:
        r.update(extras.get((int(str(r["image_id"])), str(r["method"])), {}))
    summary = summary_of(rows)
    text = table(summary)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    write_rows(args.out / "per_image.csv", rows)
    record = {
        "settings": {
            "domain": "scenes",
            "test_ids": list(range(args.n)),
            "n_val": args.n_val,
            "report": REPORT,
            "defaults": "FIDO's defaults (72 x 4, adaptive weight)",
            "draws": args.draws,
            "threads": args.threads,
            "seconds": round(time.time() - started),
        },
        "summary": summary,
    }
    write_text_atomic(args.out / "summary.json", json.dumps(record, indent=1))
    write_text_atomic(args.out / "table.md", text)
    print(f"wrote {args.out} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
