r"""``captum-fido compare``: every method on a demo domain, scored.

Runs Captum's Saliency, IntegratedGradients, LayerGradCam, Deconvolution and
Occlusion, FIDO-SSR and FIDO-SDR with every in-filler, BBMP with the paper's
heuristics and BBMP-CA over the paper's thresholds on the domain's test
split, and scores each map (:mod:`captum_fido.evaluation`). Writes
``DIR/per_image.csv`` as it goes (a rerun resumes), then ``DIR/results.csv``,
``DIR/table.md`` and ``DIR/maps.png``. Under ``torchrun --nproc_per_node K``
the images are shared among K processes. An (image, method) a method failed on
keeps its ``failed`` row on a rerun; ``--retry-failed`` runs it again.

Examples::

    python -m captum_fido compare --n-images 8 --steps 20 --out outputs/cmp
    python -m captum_fido compare --methods saliency,fido-ssr --n-images 4
    python -m captum_fido compare --out outputs/cmp --retry-failed
    torchrun --nproc_per_node 2 -m captum_fido compare --n-images 8
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from captum_fido._utils.files import write_text_atomic
from captum_fido.attr import PRESET_NAMES
from captum_fido.cli._common import (
    float_at_least,
    int_at_least,
    make_parser,
    output_folder,
)
from captum_fido.demo.domains import DOMAINS, Domain, comparison_data, load_domain
from captum_fido.demo.scenes import VARIANT_SPLITS
from captum_fido.evaluation.cost import estimate_cost
from captum_fido.evaluation.distributed import (
    Shard,
    finish_shard,
    gather_rows,
    init_shard,
)
from captum_fido.evaluation.figure import plot_map_grid
from captum_fido.evaluation.harness import (
    BASELINES,
    FAILED,
    ComparisonSettings,
    EvalData,
    merge_rows,
    read_rows,
    run_comparison,
    write_rows,
)
from captum_fido.evaluation.methods import MethodSpec, select_methods, standard_methods
from captum_fido.evaluation.report import summarise, write_results, write_table
from captum_fido.evaluation.verdict import (
    compare_verdict,
    format_verdict,
    write_verdict,
)
from captum_fido.infillers import Infiller, NoisyLinearInfiller

__all__ = ["main"]


def _parser(prog: Optional[str] = None) -> argparse.ArgumentParser:
    p = make_parser(
        "compare", "Run and score every saliency method on a demo domain.", prog
    )
    at_least_1, at_least_0 = int_at_least(1), int_at_least(0)
    p.add_argument("--n-images", type=at_least_1, default=200, help="test images")
    p.add_argument(
        "--n-val",
        type=at_least_0,
        default=40,
        help="validation images (WSL thresholds)",
    )
    p.add_argument(
        "--steps",
        type=at_least_1,
        default=None,
        help="FIDO/BBMP optimisation steps (default: each method's)",
    )
    p.add_argument(
        "--n-samples",
        type=at_least_1,
        default=None,
        help="FIDO mask samples per step (default: FIDO's)",
    )
    p.add_argument(
        "--n-stability",
        type=at_least_0,
        default=4,
        help="images re-run with another seed",
    )
    p.add_argument(
        "--n-sanity",
        type=at_least_0,
        default=2,
        help="images of the randomisation check",
    )
    p.add_argument(
        "--methods",
        default=None,
        help="comma-separated names or families (default: all; see --list-methods)",
    )
    p.add_argument("--seed", type=at_least_0, default=0, help="base seed")
    p.add_argument(
        "--out", type=Path, default=Path("outputs/compare"), help="output folder"
    )
    p.add_argument(
        "--domain", choices=sorted(DOMAINS), default="scenes", help="demo domain"
    )
    p.add_argument(
        "--l1-coeff",
        type=float_at_least(0.0),
        default=None,
        help="a fixed FIDO sparsity weight, BBMP's 5x (default: the adaptive "
        "weight, which follows the model's logit scale)",
    )
    p.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default=None,
        help="FIDO's and BBMP's preset: 'paper' runs the appendix's settings "
        "(300 steps, 8 FIDO samples, fixed sparsity and TV weights); --steps, "
        "--n-samples and --l1-coeff override it (default: the methods' "
        "defaults, 'adaptive')",
    )
    p.add_argument(
        "--chunk-size", type=at_least_1, default=16, help="images explained together"
    )
    p.add_argument(
        "--threads",
        type=at_least_0,
        default=1,
        help="torch threads per process (0: torch's default)",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="run again the (image, method) pairs an earlier run in --out "
        "recorded as failed (default: keep their failed rows)",
    )
    p.add_argument(
        "--list-methods", action="store_true", help="list the methods and exit"
    )
    return p


def _check(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    splits = VARIANT_SPLITS[DOMAINS[a.domain].variant]
    n_test, n_val = splits["test"][1], splits["val"][1]
    if a.n_images > n_test or a.n_val > n_val:
        p.error(
            f"a domain has {n_test} test and {n_val} validation images; "
            f"got --n-images {a.n_images} and --n-val {a.n_val}"
        )
    if not a.list_methods:
        output_folder(p, "--out", a.out)


#: Arguments that change what a row holds: a resumed run must share them.
_ROW_SETTINGS = (
    "domain",
    "preset",
    "steps",
    "n_samples",
    "l1_coeff",
    "seed",
    "n_stability",
    "n_sanity",
)


def _check_settings(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    r"""Record the settings in ``DIR/settings.json``; refuse to extend a
    folder whose rows were made with other settings (before any work)."""
    wanted = {k: getattr(a, k) for k in _ROW_SETTINGS}
    path = a.out / "settings.json"
    if path.exists():
        found = _read_settings(p, path)
        changed = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
        if changed:
            text = ", ".join(
                f"--{k.replace('_', '-')} {old} (now {new})"
                for k, (old, new) in changed.items()
            )
            p.error(
                f"--out {a.out} holds rows made with {text}; "
                "use another --out or the same settings"
            )
        return
    if os.environ.get("RANK", "0") == "0":
        a.out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(wanted, indent=1) + "\n")


#: What to do about a damaged settings.json (it records the rows' settings).
_FIX = (
    "it records the settings of the rows beside it: restore it, delete it if "
    "those rows were made with this command's settings, or use another --out"
)


def _read_settings(p: argparse.ArgumentParser, path: Path) -> Dict[str, object]:
    r"""The settings a folder's rows were made with; a damaged file is a
    one-line error that says what to do, not a traceback."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        p.error(f"{path} is unreadable ({type(err).__name__}: {err}); {_FIX}")
    if not isinstance(found, dict):
        p.error(f"{path} holds a JSON {type(found).__name__}, not an object; {_FIX}")
    return found


def _methods(
    a: argparse.Namespace, domain: Domain, infillers: Dict[str, Infiller]
) -> List[MethodSpec]:
    specs = standard_methods(
        domain.gradcam_layer,
        infillers,
        n_steps=a.steps,
        l1_coeff=a.l1_coeff,
        generative="Inpainter",
        n_samples=a.n_samples,
        preset=a.preset,
    )
    wanted = (
        None if a.methods is None else [m for m in a.methods.split(",") if m.strip()]
    )
    return select_methods(specs, wanted)


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run the compare command (``captum-fido compare --help`` lists the
    options).

    Args:
        argv (sequence of str, optional): The command's arguments.
        prog (str, optional): The program name for ``usage:`` lines.

    Returns:
        int, the exit status (0).

    Examples::

        >>> main(["--n-images", "4", "--n-val", "0", "--steps", "20",
        ...       "--methods", "saliency,fido-ssr", "--out", "/tmp/cmp"])
        0
        >>> main(["--list-methods"])  # prints one "name  [family]" per line
        0
    """
    parser = _parser(prog)
    a = parser.parse_args(argv)
    _check(parser, a)
    domain = load_domain(a.domain)
    if a.threads:
        torch.set_num_threads(a.threads)
    infillers = domain.infillers()
    try:
        methods = _methods(a, domain, infillers)
    except ValueError as err:
        parser.error(str(err))
    if a.list_methods:
        print("\n".join(f"{m.name}  [{m.family}]" for m in methods))
        return 0
    _check_settings(parser, a)
    shard = init_shard()
    started = time.time()
    rows = _run_shard(a, domain, shard, methods, infillers)
    rows = gather_rows(shard, rows)
    if shard.is_main:
        _write_outputs(a, domain, rows, methods)
        print(
            f"compare: {len(rows)} rows in {time.time() - started:.0f} s; wrote {a.out}"
        )
    finish_shard(shard)
    return 0


def _run_shard(
    a: argparse.Namespace,
    domain: Domain,
    shard: Shard,
    methods: List[MethodSpec],
    infillers: Dict[str, Infiller],
) -> List[Dict[str, object]]:
    data = comparison_data(domain, a.n_images, a.n_val)
    # Whole chunks per process: each image is explained in the batch a
    # one-process run would use, so sharding never changes a number.
    mine = data.subset(shard.take_chunks(len(data.image_ids), a.chunk_size))
    out_csv = a.out / (
        "per_image.csv" if shard.world == 1 else f"per_image.rank{shard.rank}.csv"
    )
    previous = [
        r
        for path in sorted(a.out.glob("per_image*.csv"))
        if path != out_csv
        for r in read_rows(path)
    ]
    eval_infillers = {
        "inpainter": infillers["Inpainter"],
        "road": NoisyLinearInfiller(),
    }
    settings = ComparisonSettings(
        seed=a.seed,
        chunk_size=a.chunk_size,
        n_stability=a.n_stability,
        n_sanity=a.n_sanity,
        show_progress=shard.is_main,
    )
    model = domain.load_classifier()
    unit_seconds = None
    if shard.is_main:
        unit_seconds = _estimate(
            a, shard, model, mine, methods, eval_infillers, settings, infillers
        )
    run_comparison(
        model,
        mine,
        methods,
        eval_infillers,
        out_csv,
        settings,
        preview_dir=a.out / "preview",
        previous=previous,
        unit_seconds=unit_seconds,
        retry_failed=a.retry_failed,
    )
    wanted = {
        (int(i), s)
        for i in mine.image_ids
        for s in [m.name for m in methods] + list(BASELINES)
    }
    own = read_rows(out_csv) + previous
    return [r for r in own if (int(str(r["image_id"])), str(r["method"])) in wanted]


def _estimate(
    a: argparse.Namespace,
    shard: Shard,
    model: torch.nn.Module,
    mine: EvalData,
    methods: List[MethodSpec],
    eval_infillers: Dict[str, Infiller],
    settings: ComparisonSettings,
    infillers: Dict[str, Infiller],
) -> Dict[str, float]:
    r"""Print what the run will cost before it starts (each piece timed on
    one image); return the per-image estimates that weigh the progress bar."""
    done = {
        (int(str(r["image_id"])), str(r["method"]))
        for path in sorted(a.out.glob("per_image*.csv"))
        for r in read_rows(path)
        if not (a.retry_failed and r.get("status") == FAILED)
    }
    n_test = sum(s == "test" for s in mine.splits)
    print(
        f"compare: {len(methods)} methods on {n_test} test and "
        f"{len(mine.splits) - n_test} validation images (the validation images "
        "choose the WSL thresholds); timing each method on one image ...",
        flush=True,
    )
    estimate = estimate_cost(
        model,
        mine,
        methods,
        eval_infillers,
        settings,
        infillers=infillers,
        n_steps=a.steps,
        n_samples=a.n_samples,
        l1_coeff=a.l1_coeff,
        done=done,
    )
    where = "" if shard.world == 1 else f" per process ({shard.world} processes)"
    print(
        f"compare: {estimate.describe()}{where} on this machine; timed in "
        f"{estimate.timing_seconds:.0f} s. The progress bar's time left follows "
        "the run. --n-images, --steps or --methods make it shorter.",
        flush=True,
    )
    return estimate.unit_seconds


def _write_outputs(
    a: argparse.Namespace,
    domain: Domain,
    rows: List[Dict[str, object]],
    methods: List[MethodSpec],
) -> None:
    order = {
        name: k for k, name in enumerate(list(BASELINES) + [m.name for m in methods])
    }

    def key(r: Dict[str, object]) -> Tuple[int, int, str]:
        method = str(r["method"])
        return (int(str(r["image_id"])), order.get(method, len(order)), method)

    # A scored row wins over a failed one (a retry's row and the failure it
    # replaces may come from different processes' files, in any order).
    merged = sorted(merge_rows(rows), key=key)
    merged_csv = a.out / "per_image.csv"
    files = sorted(
        a.out.glob("per_image*.csv"), key=lambda p: (p != merged_csv, p.name)
    )
    if any(p != merged_csv for p in files):
        # Every row of every file, not only this run's images and methods:
        # per_image.csv may hold rows no other file has (an earlier run's).
        # Replaced atomically.
        everything = [r for path in files for r in read_rows(path)]
        write_rows(merged_csv, sorted(merge_rows([*everything, *rows]), key=key))
    summaries = summarise(merged, seed=a.seed)
    write_results(summaries, a.out / "results.csv")
    if a.steps is not None:
        steps = f"{a.steps} steps"
    else:
        steps = "default steps" if a.preset is None else f"the {a.preset} preset"
    title = f"{a.domain}: {a.n_images} test images, {steps}"
    write_table(summaries, a.out / "table.md", title)
    verdict = compare_verdict(merged, summaries, seed=a.seed)
    write_verdict(verdict, a.out / "verdict.md", title)
    print(format_verdict(verdict, title))
    n_preview = min(4, a.n_images)
    images, _, boxes = domain.load_split("test", n_preview)
    plot_map_grid(
        images,
        boxes,
        list(range(n_preview)),
        [m.name for m in methods],
        a.out / "preview",
        a.out / "maps.png",
    )
