r"""BBMP-CA over the paper's tau sweep on both demo domains.

BBMP-CA (Chang et al. 2019, section 4.4 and appendix A.7) is BBMP with a
generative in-filler: the continuous keep-mask ``m`` is thresholded,
``r = 1[m > tau]``, the in-painter observes the pixels in ``r`` and fills the
others, and ``phi = m * x + (1 - m) * infill(x, r)``. The paper sweeps tau over
0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7 and 1 (Table 2; Fig. 18) and finds the method
brittle in tau. Here BBMP-CA runs as the comparison harness builds it
(:func:`captum_fido.evaluation.mask_methods` with the shipped in-painter,
:func:`captum_fido.demo.pretrained.load_inpainter_infiller`, BBMP's default
budget and adaptive weight, SDR; the map is ``1 - m``), on the first
``--n`` correctly classified images of each domain's split, and every map is
scored by :func:`captum_fido.evaluation.run_comparison`: empty / flooded
maps (:func:`captum_fido.metrics.map_status`), map mass outside the box, the
MAP mask (map > 0.5) outside the box, WSL error at theta = 0.5 (the report's
rule for mask methods), pointing, Saliency Metric, and deletion / insertion
under the in-painter and ROAD. Also recorded per map: the share of the image
the in-painter fills at the end (``m <= tau``).

References on the same images: FIDO-SSR with the in-painter (FIDO-CA, the
paper's comparison) and BBMP with Blur.

``--variant`` chooses BBMP-CA's rule: ``shipped``, the library's (the mask
starts at tau and the threshold reads the mask's cells,
:class:`captum_fido.attr.ContinuousMask`), or ``ste``, a
straight-through gradient for the threshold (``dr / dm := 1``, and the
in-fill's derivative in the partition ``x - g``, with ``g`` the fill of a
pixel that is not observed: its fill there, or for an observed pixel its fill
with nothing observed). Variants are measured on ``--split val`` before any
test run; with the shipped rows of the same split in ``--out`` it also writes
``paired_<split>_<variant>.md``, the variant minus the shipped rule.

Writes ``--out``/``per_image_<split>[_<variant>].csv`` (the harness's rows plus
``infilled_share``), ``summary_<split>[_<variant>].json`` (means with 95%
bootstrap intervals over images, paired differences) and ``table_...md``, and
the figure ``--figure`` (test split, shipped variant). Work in progress is kept
in ``outputs/bbmp_ca_sweep/`` so that a rerun resumes.

Usage::

    python benchmarks/bbmp_ca_sweep.py                   # 16 test images x 2
    python benchmarks/bbmp_ca_sweep.py --quick           # smoke run, outputs/
    python benchmarks/bbmp_ca_sweep.py --split val --variant <name>
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from captum_fido import BBMP
from captum_fido._utils.files import save_figure_atomic, write_text_atomic
from captum_fido.attr import ContinuousMask, MaskDistribution
from captum_fido.demo.domains import VAL_ID_OFFSET, load_domain
from captum_fido.demo.infillers import demo_infillers
from captum_fido.evaluation import EvalData, run_comparison
from captum_fido.evaluation.harness import ComparisonSettings, read_rows, write_rows
from captum_fido.evaluation.methods import MethodSpec, mask_methods
from captum_fido.evaluation.report import (
    bootstrap_ci,
    is_failed,
    paired_difference,
    per_image_values,
)
from captum_fido.infillers import Infiller, NoisyLinearInfiller

#: The thresholds of the paper's Table 2 (the text of section 4.4 names six
#: of them; the table adds 0.2 and 0.4).
PAPER_TAUS = (1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)
#: Metrics of the summary: (key, label, lower is better).
METRICS: Tuple[Tuple[str, str, bool], ...] = (
    ("wsl_error", "WSL error", True),
    ("outside_mass", "mass outside box", True),
    ("map_outside_box", "MAP mask outside box", True),
    ("pointing", "pointing", False),
    ("saliency_metric", "Saliency Metric", True),
    ("deletion_inpainter", "deletion (in-painter)", True),
    ("deletion_road", "deletion (ROAD)", True),
    ("insertion_inpainter", "insertion (in-painter)", False),
    ("infilled_share", "share in-filled (m <= tau)", False),
)
FIDO_REF = "FIDO-SSR (Inpainter)"
BLUR_REF = "BBMP (Blur)"
Row = Dict[str, object]
#: (domain, image id) -> ground-truth box, for the figure.
_boxes: Dict[Tuple[str, int], Tensor] = {}


class _ThresholdSTE(ContinuousMask):
    r"""BBMP-CA's mask whose threshold ``r = 1[m > tau]`` passes gradients
    straight through (``dr / dm := 1``); values unchanged."""

    def observed(self, keep_sample: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        hard = super().observed(keep_sample, uniforms)
        return hard + (keep_sample - keep_sample.detach())


class _STEInfiller(Infiller):
    r"""The in-filler, plus the straight-through derivative of its fill in
    the partition: ``d fill_p / d r_p = x_p - g_p`` with ``g_p`` what it
    puts at ``p`` when ``p`` is not observed (its fill there; for an
    observed pixel its fill with nothing observed). Values unchanged."""

    def __init__(self, inner: Infiller) -> None:
        self.inner = inner
        self.uses_mask = True
        self.stochastic = inner.stochastic
        self.honest = inner.honest
        self._cache: Optional[Tuple[Tensor, Tensor]] = None

    def fill(self, x: Tensor, keep_mask: Tensor, generator=None) -> Tensor:  # type: ignore[no-untyped-def]
        return self.inner.fill(x, keep_mask, generator)

    def __call__(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator] = None
    ) -> Tensor:
        hard = keep_mask.detach()
        ref = self.inner(x, hard, generator)
        if not keep_mask.requires_grad:
            return ref
        if self._cache is None or not torch.equal(self._cache[0], x):
            self._cache = (x.detach().clone(), self.inner(x, torch.zeros_like(hard)))
        unobserved = torch.where(hard.bool(), self._cache[1], ref)
        return ref + (keep_mask - hard) * (x - unobserved)


class _Variant(BBMP):
    r"""BBMP-CA with another start or a straight-through threshold
    (measurement only; the shipped rule is the library's)."""

    def __init__(
        self,
        model: nn.Module,
        fill: Infiller,
        start: Callable[[float], float],
        ste: bool,
    ) -> None:
        super().__init__(model, _STEInfiller(fill) if ste else fill)
        self._start, self._ste = start, ste

    def mask_distribution(self, options) -> MaskDistribution:  # type: ignore[no-untyped-def]
        kind = _ThresholdSTE if self._ste else ContinuousMask
        return kind(options.tau, start=self._start(options.tau))


#: BBMP-CA variants: (the mask's start as a function of tau, straight-through
#: threshold); None is the library's rule.
VARIANTS: Dict[str, Optional[Tuple[Callable[[float], float], bool]]] = {
    "shipped": None,
    "ste": (lambda tau: tau, True),
}


def method_specs(
    fill: Infiller, blur: Infiller, taus: Sequence[float], variant: str, refs: bool
) -> List[MethodSpec]:
    r"""BBMP-CA at every tau (as the harness builds it), then the references."""
    specs = [
        s
        for s in mask_methods(
            {"Inpainter": fill}, generative="Inpainter", bbmp_infillers=(), taus=taus
        )
        if s.family == "bbmp-ca"
    ]
    rule = VARIANTS[variant]
    if rule is not None:
        specs = [_variant_spec(s, fill, *rule) for s in specs]
    if refs:
        specs += [
            s
            for s in mask_methods(
                {"Inpainter": fill, "Blur": blur}, bbmp_infillers=("Blur",)
            )
            if s.name in (FIDO_REF, BLUR_REF)
        ]
    return specs


def _variant_spec(
    spec: MethodSpec, fill: Infiller, start: Callable[[float], float], ste: bool
) -> MethodSpec:
    tau = float(spec.tau)  # type: ignore[arg-type]

    def explain(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        bbmp = _Variant(model, fill, start, ste)
        attr = bbmp.attribute(x, target=y, seed=seed, tau=tau)
        return attr[:, 0].detach().float()

    return MethodSpec(spec.name, spec.family, spec.infiller, explain, True, tau)


def _capture(
    spec: MethodSpec, shares: Dict[Tuple[int, str], float], chunk: EvalData
) -> MethodSpec:
    r"""The spec, recording each map's in-filled share (``m <= tau``, i.e.
    ``map >= 1 - tau``) by (image id, method) as it runs."""
    if spec.tau is None:
        return spec
    tau = float(spec.tau)

    def explain(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        maps = spec.explain(model, x, y, seed)
        # A pixel still exactly at the start (m == tau) is not observed.
        filled = (maps >= 1.0 - tau - 1e-6).flatten(1).float().mean(1)
        for row, value in zip(x, filled.tolist()):
            # The harness may retry a failed chunk image by image: find each
            # row's image by value.
            k = next(k for k, im in enumerate(chunk.images) if torch.equal(im, row))
            shares[(int(chunk.image_ids[k]), spec.name)] = value
        return maps

    return MethodSpec(spec.name, spec.family, spec.infiller, explain, True, spec.tau)


def correct_images(
    model: nn.Module, domain_name: str, split: str, n: int, pool: int
) -> EvalData:
    r"""The first ``n`` images of ``split`` (out of ``pool``) the model gets right."""
    domain = load_domain(domain_name)
    images, labels, boxes = domain.load_split(split, pool)
    with torch.no_grad():
        right = model(images).argmax(1) == labels
    keep = right.nonzero()[:, 0][:n].tolist()
    if len(keep) < n:
        raise SystemExit(f"only {len(keep)} of {pool} {split} images are correct")
    first = VAL_ID_OFFSET if split == "val" else 0
    for i in keep:
        _boxes[(domain_name, first + i)] = boxes[i]
    return EvalData(
        images[keep],
        labels[keep],
        boxes[keep],
        [first + i for i in keep],
        [split] * len(keep),
    )


def _run_domain(
    domain_name: str, args: argparse.Namespace, work: Path
) -> Tuple[List[Row], Dict[Tuple[int, str], float]]:
    domain = load_domain(domain_name)
    model = domain.load_classifier()
    data = correct_images(model, domain_name, args.split, args.n, args.pool)
    fills = demo_infillers()
    specs = method_specs(
        fills["Inpainter"], fills["Blur"], args.taus, args.variant, not args.no_refs
    )
    shares: Dict[Tuple[int, str], float] = {}
    share_file = work / f"shares_{domain_name}.json"
    if share_file.is_file():
        for key, value in json.loads(share_file.read_text()).items():
            image_id, name = key.split("|", 1)
            shares[(int(image_id), name)] = float(value)
    settings = ComparisonSettings(
        seed=0,
        chunk_size=args.chunk_size,
        n_stability=0,
        n_sanity=0,
        preview=args.preview,
        show_progress=not args.quiet,
    )
    eval_fills = {"inpainter": fills["Inpainter"], "road": NoisyLinearInfiller()}
    out_csv = work / f"per_image_{domain_name}.csv"
    # Chunk by chunk, so that each capture knows its chunk's images (the
    # harness's own order: chunks, then methods).
    n = len(data.image_ids)
    for start in range(0, n, args.chunk_size):
        chunk = data.subset(list(range(start, min(start + args.chunk_size, n))))
        for spec in specs:
            run_comparison(
                model,
                chunk,
                [_capture(spec, shares, chunk)],
                eval_fills,
                out_csv,
                settings,
                preview_dir=work / f"preview_{domain_name}",
            )
            write_text_atomic(
                share_file,
                json.dumps({f"{i}|{n}": v for (i, n), v in sorted(shares.items())}),
            )
    rows = [
        r | {"domain": domain_name}
        for r in read_rows(out_csv)
        if r["method"] in {s.name for s in specs}
    ]
    for r in rows:
        key = (int(str(r["image_id"])), str(r["method"]))
        if key in shares:
            r["infilled_share"] = f"{shares[key]:.6g}"
    return rows, shares


def summarise_sweep(
    rows: Sequence[Row], methods: Sequence[str]
) -> Dict[str, Dict[str, object]]:
    r"""Per domain and method: image count, empty / flooded counts, and each
    metric's mean with its 95% bootstrap interval (``[mean, low, high, n]``);
    paired differences of each BBMP-CA tau against FIDO-SSR (Inpainter)."""
    out: Dict[str, Dict[str, object]] = {}
    for domain in sorted({str(r["domain"]) for r in rows}):
        mine = [r for r in rows if r["domain"] == domain and not is_failed(r)]
        per: Dict[str, object] = {}
        for method in methods:
            m_rows = [r for r in mine if r["method"] == method]
            if not m_rows:
                continue
            statuses = [str(r.get("map_status", "")) for r in m_rows]
            entry: Dict[str, object] = {
                "n_images": len(m_rows),
                "empty": statuses.count("empty"),
                "flooded": statuses.count("flooded"),
                "seconds_per_image": float(
                    sum(float(str(r["seconds"])) for r in m_rows) / len(m_rows)
                ),
            }
            for key, _, _ in METRICS:
                values = per_image_values(m_rows, key)
                finite = [v for v in values.values() if not math.isnan(v)]
                entry[key] = [*bootstrap_ci(finite), len(finite)]
            ref = [r for r in mine if r["method"] == FIDO_REF]
            if ref and method != FIDO_REF:
                entry["minus_fido"] = {
                    key: list(
                        paired_difference(
                            per_image_values(m_rows, key), per_image_values(ref, key)
                        )
                    )
                    for key in ("wsl_error", "outside_mass", "deletion_inpainter")
                }
            per[method] = entry
        out[domain] = per
    return out


def variant_table(
    rows: Sequence[Row], shipped: Sequence[Row], taus: Sequence[float]
) -> str:
    r"""Markdown: per domain and tau, the empty maps of the shipped rule and
    of the variant, and the variant minus the shipped rule (paired, 95%
    bootstrap interval) on the mass outside the box, WSL error and in-painter
    deletion."""
    keys = ("outside_mass", "wsl_error", "deletion_inpainter")
    lines = [
        "| domain | tau | empty, shipped -> variant | mass outside box | "
        "WSL error (0.5) | deletion (in-painter) |",
        "|---|---|---|---|---|---|",
    ]
    for domain in sorted({str(r["domain"]) for r in rows}, reverse=True):
        for tau in taus:
            method = f"BBMP-CA tau={tau:g}"

            a, b = (
                [r for r in x if r.get("domain") == domain and r["method"] == method]
                for x in (rows, shipped)
            )
            if not a or not b:
                continue
            empty = [sum(r.get("map_status") == "empty" for r in x) for x in (b, a)]
            cells = []
            for key in keys:
                d = paired_difference(
                    per_image_values(a, key), per_image_values(b, key)
                )
                cells.append(f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]")
            lines.append(
                f"| {domain} | {tau:g} | {empty[0]} -> {empty[1]} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines) + "\n"


def _cell(v: Sequence[float], digits: int = 3) -> str:
    mean, low, high = v[0], v[1], v[2]
    if math.isnan(mean):
        return "–"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def table(summary: Dict[str, Dict[str, object]]) -> str:
    r"""Markdown: one row per (domain, method)."""
    keys = ("wsl_error", "outside_mass", "pointing", "deletion_inpainter")
    head = (
        "| domain | method | empty / flooded | WSL error | mass outside box | "
        "pointing | deletion (in-painter) | share in-filled | s / image |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for domain, per in summary.items():
        for method, e in per.items():
            entry = dict(e)  # type: ignore[call-overload]
            cells = [_cell(entry[k]) for k in keys]
            share = entry["infilled_share"]
            lines.append(
                f"| {domain} | {method} | {entry['empty']} / {entry['flooded']} "
                f"of {entry['n_images']} | "
                + " | ".join(cells)
                + f" | {_cell(share, 2)} | {entry['seconds_per_image']:.1f} |"
            )
    lines.append("")
    lines.append(
        "| domain | method | WSL error | mass outside box | deletion (in-painter) |"
    )
    lines.append("|---|---|---|---|---|")
    for domain, per in summary.items():
        for method, e in per.items():
            diff = dict(e).get("minus_fido")  # type: ignore[call-overload]
            if not diff:
                continue
            cells = [
                f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] (n={d[3]})"
                for d in (diff[k] for k in diff)
            ]
            lines.append(
                f"| {domain} | {method} - {FIDO_REF} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n"


def figure(
    summary: Dict[str, Dict[str, object]],
    taus: Sequence[float],
    work: Path,
    rows: Sequence[Row],
    path: Path,
) -> None:
    r"""Top: empty maps, WSL error, mass outside the box and in-painter
    deletion against tau (mean and 95% interval; dashed: FIDO-SSR with the
    in-painter). Bottom: one image's maps per domain across tau."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from captum_fido.evaluation.figure import add_map_colour_bar, draw_box, show_map
    from captum_fido.evaluation.harness import preview_path

    domains = list(summary)
    panels = (
        ("empty", "empty maps (of n)"),
        ("wsl_error", "WSL error (theta 0.5)"),
        ("outside_mass", "map mass outside box"),
        ("deletion_inpainter", "deletion area (in-painter)"),
    )
    fig = plt.figure(figsize=(12, 3.2 + 1.5 * len(domains)))
    grid = fig.add_gridspec(
        1 + len(domains),
        max(len(panels), len(taus) + 1),
        height_ratios=[2.0] + [1.0] * len(domains),
        hspace=0.6,
    )
    colours = {"scenes": "tab:blue", "context": "tab:orange"}
    ncol = max(len(panels), len(taus) + 1)
    span = ncol // len(panels)
    for p, (key, title) in enumerate(panels):
        ax = fig.add_subplot(grid[0, p * span : (p + 1) * span])
        for domain in domains:
            per = summary[domain]
            colour = colours.get(domain, None)
            xs, means, lows, highs = [], [], [], []
            for tau in taus:
                e = per.get(f"BBMP-CA tau={tau:g}")
                if e is None:
                    continue
                entry = dict(e)  # type: ignore[call-overload]
                xs.append(tau)
                if key == "empty":
                    means.append(float(entry["empty"]))
                    lows.append(float(entry["empty"]))
                    highs.append(float(entry["empty"]))
                else:
                    means.append(entry[key][0])
                    lows.append(entry[key][1])
                    highs.append(entry[key][2])
            ax.plot(xs, means, "o-", color=colour, label=f"BBMP-CA, {domain}")
            ax.fill_between(xs, lows, highs, color=colour, alpha=0.2)
            ref = per.get(FIDO_REF)
            if ref is not None and key != "empty":
                value = dict(ref)[key][0]  # type: ignore[call-overload]
                ax.axhline(value, color=colour, ls="--", lw=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("tau")
        ax.tick_params(labelsize=8)
        if p == 0:
            ax.legend(fontsize=7)
    image = None
    for d, domain in enumerate(domains):
        first = min(int(str(r["image_id"])) for r in rows if r["domain"] == domain)
        for t, tau in enumerate(taus):
            ax = fig.add_subplot(grid[1 + d, t])
            file = preview_path(
                work / f"preview_{domain}", f"BBMP-CA tau={tau:g}", first
            )
            if file.is_file():
                image = show_map(ax, torch.load(file))
                boxes = _boxes.get((domain, first))
                if boxes is not None:
                    draw_box(ax, boxes.tolist())
            else:
                ax.axis("off")
            ax.set_title(f"tau={tau:g}", fontsize=8)
            if t == 0:
                ax.set_ylabel(f"{domain}\nimage {first}", fontsize=8)
        file = preview_path(work / f"preview_{domain}", FIDO_REF, first)
        ax = fig.add_subplot(grid[1 + d, len(taus)])
        if file.is_file():
            image = show_map(ax, torch.load(file))
            boxes = _boxes.get((domain, first))
            if boxes is not None:
                draw_box(ax, boxes.tolist())
        else:
            ax.axis("off")
        ax.set_title("FIDO-SSR (Inp.)", fontsize=8)
    if image is not None:
        add_map_colour_bar(fig, image, fig.axes[len(panels) :])
    fig.suptitle(
        "BBMP-CA across tau (maps: 1 - m, drop importance; dashed: FIDO-SSR "
        "with the in-painter)",
        fontsize=10,
    )
    save_figure_atomic(fig, path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--domains", nargs="+", default=["scenes", "context"])
    p.add_argument("--n", type=int, default=16, help="correct images per domain")
    p.add_argument("--pool", type=int, default=32, help="images searched for them")
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--taus", type=float, nargs="+", default=list(PAPER_TAUS))
    p.add_argument("--variant", choices=sorted(VARIANTS), default="shipped")
    p.add_argument("--no-refs", action="store_true", help="no FIDO / BBMP rows")
    p.add_argument("--chunk-size", type=int, default=8)
    p.add_argument("--preview", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("docs/results/bbmp_ca_sweep"))
    p.add_argument("--figure", type=Path, default=Path("docs/images/bbmp_ca_sweep.png"))
    p.add_argument("--work", type=Path, default=Path("outputs/bbmp_ca_sweep"))
    p.add_argument("--quick", action="store_true", help="2 images, 2 taus, outputs/")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.n, args.pool, args.taus, args.no_refs = 2, 8, [1.0, 0.3], True
        args.out = Path("outputs/bbmp_ca_sweep_quick")
        args.figure = args.out / "bbmp_ca_sweep.png"
        args.work = args.out / "work"
    suffix = args.split + ("" if args.variant == "shipped" else f"_{args.variant}")
    work = args.work / suffix
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rows: List[Row] = []
    for domain in args.domains:
        got, _ = _run_domain(domain, args, work)
        rows += got
    methods: List[str] = []
    for r in rows:
        if r["method"] not in methods:
            methods.append(str(r["method"]))
    summary = summarise_sweep(rows, methods)
    settings = {
        "domains": args.domains,
        "split": args.split,
        "n_images": args.n,
        "image_ids": {
            d: sorted({int(str(r["image_id"])) for r in rows if r["domain"] == d})
            for d in args.domains
        },
        "taus": args.taus,
        "variant": args.variant,
        "budget": "BBMP's and FIDO's defaults (adaptive weight)",
        "wsl_threshold": 0.5,
        "threads": args.threads,
        "wall_seconds_this_invocation": round(time.time() - started),
    }
    text = table(summary)
    print(text)
    write_rows(args.out / f"per_image_{suffix}.csv", rows)
    write_text_atomic(
        args.out / f"summary_{suffix}.json",
        json.dumps({"settings": settings, "summary": summary}, indent=1),
    )
    write_text_atomic(args.out / f"table_{suffix}.md", text)
    shipped = args.out / f"per_image_{args.split}.csv"
    if args.variant != "shipped" and shipped.is_file():
        # Not read_rows: the two domains share image ids, which it merges.
        with open(shipped, newline="", encoding="utf-8") as f:
            paired = variant_table(rows, list(csv.DictReader(f)), args.taus)
        print(paired)
        write_text_atomic(args.out / f"paired_{suffix}.md", paired)
    if args.split == "test" and args.variant == "shipped":
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        figure(summary, args.taus, work, rows, args.figure)
        print(f"wrote {args.figure}")
    print(f"wrote {args.out} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
