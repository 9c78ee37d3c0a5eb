r"""The mask-optimisation loop shared by FIDO and BBMP.

Both methods minimise, per image,

    E_q[ sign * s(phi(x, z)) ] + w_t * (l1 * area + tv * TV)

over the parameters of a keep-mask distribution ``q`` on a coarse grid (or
one parameter per segment of a ``feature_mask``: :class:`SegmentLayout`), where
``phi(x, z) = z * x + (1 - z) * infill(x, z)``, ``s`` is the target's log-odds,
``sign`` is ``-1`` for SSR (keep the class with little) and ``+1`` for SDR
(lose the class by dropping little), ``area`` is the expected fraction kept
(SSR) or dropped (SDR) times 224*224, ``l1`` is each image's sparsity weight
(fixed, or set from the image's evidence: :mod:`captum_fido.attr._sparsity`),
and ``w_t`` warms the regularisers up.
FIDO and BBMP differ only in ``q`` (:mod:`captum_fido.attr._masks`).

Each step, read top-down in :meth:`_Run.step`: set the Concrete temperature
(``temperature_final``), take the expected masks, draw ``n_samples`` masks per
image, get the references, score every row (in chunks of
``internal_batch_size`` rows, back-propagating each chunk), add the
regularisers and the overlap with ``avoid_regions``, and take one Adam step
(scaled per image by the early stop's cool-down).
The ``N`` images of a call are optimised together; each draws its random
numbers from its own generator seeded with the run's seed, so a batched call
equals separate calls. After the last step, ``hard`` cuts the map into a
binary one that meets the objective (:meth:`_Run.binarise`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.profiler import record_function
from tqdm.auto import tqdm

from captum_fido._utils.rows import row_chunks, select_rows
from captum_fido._utils.scores import log_odds
from captum_fido.attr._details import MaskOptimizationDetails
from captum_fido.attr._masks import GridLayout, MaskDistribution, MaskLayout
from captum_fido.attr._options import MaskOptions
from captum_fido.attr._sparsity import SparsityWeights
from captum_fido.attr._stopping import EarlyStop
from captum_fido.infillers import Infiller

__all__ = [
    "MaskProblem",
    "optimize_masks",
    "with_reference_log_odds",
    "REFERENCE_PIXELS",
]

#: The reference implementation applies its L1 coefficient to the sum of a
#: 224 x 224 mask; coefficients here multiply mean(mask) * REFERENCE_PIXELS so
#: the same value behaves the same at any resolution.
REFERENCE_PIXELS = 224 * 224

Masks = List[Tensor]


@dataclass(frozen=True)
class MaskProblem:
    r"""What one run explains, already validated: the classifier and its
    inputs, the targets, the infiller, and the per-run choices (objective,
    where each input's mask parameters live, seed)."""

    forward_func: Callable[..., Tensor]
    inputs: Tuple[Tensor, ...]
    target: Tensor
    additional_forward_args: Optional[Tuple[Any, ...]]
    infiller: Infiller
    output_type: str
    objective: str
    layouts: Tuple[MaskLayout, ...]
    seed: int
    clean_log_odds: Tensor
    #: Per input, ``(N, 1, H, W)`` regions to avoid (``avoid_regions``).
    avoid: Optional[Tuple[Tensor, ...]] = None
    #: ``(N,)`` log-odds with every pixel in-filled
    #: (:func:`with_reference_log_odds`); ``None`` until measured.
    infilled_log_odds: Optional[Tensor] = None

    @property
    def n(self) -> int:
        return int(self.inputs[0].shape[0])

    @property
    def device(self) -> torch.device:
        return self.inputs[0].device

    @property
    def sizes(self) -> List[Tuple[int, int]]:
        return [(int(x.shape[-2]), int(x.shape[-1])) for x in self.inputs]


def with_reference_log_odds(problem: MaskProblem) -> MaskProblem:
    r"""``problem`` with its clean and fully in-filled log-odds measured in
    one classifier pass of ``2 N`` rows (clean inputs, then every pixel
    in-filled), without a graph.

    One pass for both keeps a single image at two rows: classifiers may
    round a one-row batch differently from a larger one, and the adaptive
    sparsity weight is set from these values, so a batch keeps giving the
    maps of separate calls. A stochastic infiller draws each image's fill
    from a generator seeded with the run's seed.
    """
    n = problem.n
    with torch.no_grad():
        refs = [_full_infill(problem, x).to(x.dtype) for x in problem.inputs]
        rows = torch.arange(n, device=problem.device).repeat(2)
        both = [torch.cat([x, r]) for x, r in zip(problem.inputs, refs)]
        args = select_rows(problem.additional_forward_args, rows)
        output = problem.forward_func(*both, *args)
        scores = log_odds(output, problem.target[rows], problem.output_type)
    _check_finite_scores(scores[n:], "with every pixel in-filled (before step 0)")
    return dataclasses.replace(
        problem,
        clean_log_odds=scores[:n].detach(),
        infilled_log_odds=scores[n:].detach(),
    )


def _full_infill(problem: MaskProblem, x: Tensor) -> Tensor:
    r"""``x`` with every pixel in-filled (per-image seeded when stochastic)."""
    nothing = torch.zeros_like(x[:, :1])
    if not problem.infiller.stochastic:
        return problem.infiller(x, nothing)
    return torch.cat(
        [
            problem.infiller(
                x[i : i + 1],
                nothing[i : i + 1],
                torch.Generator(device=x.device).manual_seed(problem.seed),
            )
            for i in range(x.shape[0])
        ]
    )


def optimize_masks(
    problem: MaskProblem, distribution: MaskDistribution, options: MaskOptions
) -> Tuple[Tuple[Tensor, ...], Optional[MaskOptimizationDetails]]:
    r"""Optimise one mask distribution per image; return the importance maps.

    Returns:
        ``(importance, details)``: per input an ``(N, 1, H, W)`` map in
        ``[0, 1]`` (keep probability for SSR, drop probability for SDR; with
        ``options.hard`` the binary map of :meth:`_Run.binarise`), and
        :class:`MaskOptimizationDetails` when ``options.return_details``.
    """
    run = _Run(problem, distribution, options)
    bar = tqdm(
        range(options.n_steps),
        desc=f"{distribution.name}-{problem.objective.upper()}",
        disable=not options.show_progress,
        leave=False,
        mininterval=0.5,
    )
    for step in bar:
        run.step(step)
        if options.show_progress and (step % 10 == 0 or step + 1 == options.n_steps):
            bar.set_postfix(
                loss=f"{run.loss_history[:, step].mean():.3f}",
                log_odds=f"{run.score_history[:, step].mean():.2f}",
            )
        if run.stop is not None and run.stop.done(step + 1):
            break
    bar.close()
    with torch.no_grad():
        maps = run.importance()
        if not (options.return_details or options.hard):
            return maps, None
        samples = run.counterfactuals()
        binary = (
            run.binarise(maps, samples.log_odds.mean(dim=1)) if options.hard else None
        )
        maps = maps if binary is None else binary.maps
        details = run.details(samples, binary) if options.return_details else None
        return maps, details


#: Thresholds ``hard`` tries on the map, in order: the distribution's mode
#: (0.5) first, then ever larger regions.
HARD_THRESHOLDS = (0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.0)


@dataclass(frozen=True)
class _Samples:
    r"""Binary masks drawn from the final distribution, their in-filled
    images ``(N, K, ...)`` per input, and the target's log-odds ``(N, K)``."""

    images: Tuple[Tensor, ...]
    masks: Tuple[Tensor, ...]
    log_odds: Tensor


@dataclass(frozen=True)
class _Binary:
    r"""``hard``'s binary maps, the target's log-odds under them, the
    threshold each image's map was cut at, and whether it met the level."""

    maps: Tuple[Tensor, ...]
    log_odds: Tensor
    threshold: Tensor
    met: Tensor


class _References:
    r"""Where the in-fill comes from, decided once per run from the infiller.

    - *fixed*: neither the mask nor chance changes it (Mean, Blur). It is
      computed once, with ``x - ref``, so composing is one multiply-add.
    - *per row*: recomputed each step for every row, from the mask the
      infiller may observe (Local, learned in-painters) and from each image's
      own generator when the infiller draws random numbers (Random, samplers).
    """

    def __init__(self, problem: MaskProblem, generators: List[torch.Generator]):
        self.problem = problem
        self.generators = generators
        self.fill = problem.infiller
        self.fixed = not self.fill.uses_mask and not self.fill.stochastic
        self.refs: List[Tensor] = []
        self.diffs: List[Tensor] = []
        if self.fixed:
            self.refs = [
                self.fill(x, torch.ones_like(x[:, :1])) for x in problem.inputs
            ]
            self.diffs = [x - r for x, r in zip(problem.inputs, self.refs)]

    def per_row(self, observed: Masks, n_per_image: int) -> Optional[Masks]:
        r"""References for all ``N * n_per_image`` rows (``None`` when fixed)."""
        if self.fixed:
            return None
        return [
            self._rows(x, observed[k] if observed else None, n_per_image)
            for k, x in enumerate(self.problem.inputs)
        ]

    def _rows(self, x: Tensor, observed: Optional[Tensor], n_per_image: int) -> Tensor:
        x_rows = x.repeat_interleave(n_per_image, dim=0)
        keep = observed if observed is not None else torch.ones_like(x_rows[:, :1])
        if not self.fill.stochastic:
            return self.fill(x_rows, keep)
        # Each image draws from its own generator: a batch equals separate calls.
        return torch.cat(
            [
                self.fill(x_rows[rows], keep[rows], gen)
                for rows, gen in zip(
                    row_chunks(len(x_rows), n_per_image), self.generators
                )
            ]
        )

    def compose(
        self,
        k: int,
        rows: slice,
        image_rows: Optional[Tensor],
        keep: Tensor,
        refs: Optional[Masks],
    ) -> Tensor:
        r"""``phi = ref + keep * (x - ref)`` for ``rows`` of input ``k``;
        ``image_rows`` maps them to images (``None``: the rows are the images)."""

        def take(t: Tensor) -> Tensor:
            return t if image_rows is None else t.index_select(0, image_rows)

        if refs is None:
            return take(self.refs[k]) + keep * take(self.diffs[k])
        ref = refs[k][rows]
        return ref + keep * (take(self.problem.inputs[k]) - ref)


class _Run:
    r"""The state of one optimisation: parameters, optimiser, histories."""

    def __init__(
        self, problem: MaskProblem, distribution: MaskDistribution, options: MaskOptions
    ) -> None:
        self.problem, self.dist, self.options = problem, distribution, options
        self.sign = -1.0 if problem.objective == "ssr" else 1.0
        n = problem.n
        self.generators = [
            torch.Generator(device=problem.device).manual_seed(problem.seed)
            for _ in range(n)
        ]
        self.references = _References(problem, self.generators)
        self.params = [
            distribution.init_params(n, layout.shape, x).requires_grad_(True)
            for layout, x in zip(problem.layouts, problem.inputs)
        ]
        # Per input: the TV weight of its layout (tv_coeff's default differs
        # between the grid and segments), resolved once rather than per step.
        self.tv_weights = [
            options.effective_tv(on_grid=isinstance(layout, GridLayout))
            for layout in problem.layouts
        ]
        clean = problem.clean_log_odds
        filled = (
            clean if problem.infilled_log_odds is None else problem.infilled_log_odds
        )
        self.sparsity = SparsityWeights(
            options.l1_coeff, options.area_cost, clean, filled, REFERENCE_PIXELS
        )
        self.optimizer = torch.optim.Adam(self.params, lr=options.effective_lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda t: max(0.0, 1.0 - t / options.n_steps)
        )
        self.loss_history = torch.zeros(n, options.n_steps)
        self.score_history = torch.zeros(n, options.n_steps)
        self.steps_run = 0
        self.stop = (
            None
            if options.stop_tol is None
            else EarlyStop(
                n, options.stop_tol, options.stop_patience, options.effective_warmup
            )
        )

    def step(self, step: int) -> None:
        r"""One Adam step on every image's mask distribution."""
        self.optimizer.zero_grad(set_to_none=True)
        loss, mean_score = self.backward_loss(
            self.keep_probability(), step, self.params
        )
        with record_function("fido.optimizer"):
            self.optimizer_step(step)
        self.loss_history[:, step] = loss
        self.score_history[:, step] = mean_score
        self.steps_run = step + 1
        if self.stop is not None:
            self.stop.record(step, self.keep_probability())

    def backward_loss(
        self, coarse: Masks, step: int, params: List[Tensor], weight: float = 1.0
    ) -> Tuple[Tensor, Tensor]:
        r"""The objective at ``step`` for coarse keep probabilities ``coarse``,
        back-propagated into ``params``: the mask's own parameters here, an
        explainer network's in :func:`captum_fido.attr.train_explainer`.

        In order: the temperature schedule, the expected masks, ``n_samples``
        relaxed samples per image, their references, the target's log-odds
        chunk by chunk (each chunk back-propagated at once, so
        ``internal_batch_size`` bounds memory), then the warmed-up
        regularisers and the overlap with ``avoid_regions``. Every image's
        loss is scaled by ``weight`` (``1 / N`` for a batch mean).

        Returns:
            ``(loss, log_odds)``, detached ``(N,)`` on the CPU: each image's
            ``sign * mean log-odds + regularisers`` and its mean log-odds
            over the samples.
        """
        b = self.options.n_samples
        self.dist.anneal(step / max(1, self.options.n_steps - 1))
        with record_function("fido.mask_sample"):
            keep_full = self.expected_masks(coarse)
            masks, observed = self.sample(coarse, keep_full, b, hard=False)
        with record_function("fido.infill"):
            refs = self.references.per_row(observed, b)
        score_sum = torch.zeros(
            self.problem.n, device=self.problem.device, dtype=torch.float64
        )
        for image_rows, _, s in self.scored_chunks(masks, refs, b):
            with record_function("fido.backward"):
                ((weight * self.sign / b) * s.sum()).backward(
                    inputs=params, retain_graph=True
                )
            score_sum.index_add_(0, image_rows, s.detach().to(torch.float64))
        # A NaN or infinite score in any sample makes its image's sum
        # non-finite: one check (one sync) per step, before Adam's step.
        _check_finite_scores(score_sum, f"at step {step}")
        with record_function("fido.regularisers"):
            # The overlap term is a constraint, not sparsity: it applies in
            # full from the first step, before the score favours old regions.
            reg = self.warmup(step) * self.regularisers(keep_full)
            reg = reg + self.overlap(keep_full)
            (weight * reg.sum()).backward(inputs=params)
        mean_score = (score_sum / b).to(torch.float32).cpu()
        return self.sign * mean_score + reg.detach().float().cpu(), mean_score

    def optimizer_step(self, step: int) -> None:
        r"""Adam's step, scaled per image by the early stop's cool-down (a
        frozen image's parameters stay put), then the projection."""
        before = (
            None if self.stop is None else [p.detach().clone() for p in self.params]
        )
        self.optimizer.step()
        self.scheduler.step()
        with torch.no_grad():
            for k, p in enumerate(self.params):
                if before is not None and self.stop is not None:
                    f = self.stop.factors(step).to(p.device, p.dtype)
                    f = f.view(-1, *([1] * (p.dim() - 1)))
                    p.copy_(before[k] + f * (p - before[k]))
                self.dist.project(p)

    def expected_masks(self, coarse: Optional[Masks] = None) -> Masks:
        r"""Per input, the expected keep-mask at full resolution, ``(N, 1, H, W)``,
        from the keep probabilities ``coarse`` (default: the current ones)."""
        coarse = self.keep_probability() if coarse is None else coarse
        return [layout.expected(p) for p, layout in zip(coarse, self.problem.layouts)]

    def keep_probability(self) -> Masks:
        return [self.dist.keep_probability(p) for p in self.params]

    def sample(
        self, coarse: Masks, keep_full: Masks, n_per_image: int, hard: bool
    ) -> Tuple[Masks, Masks]:
        r"""``n_per_image`` keep-masks per image (differentiable, or binary
        when ``hard``), and the binary masks the infiller may observe (empty
        when the infiller ignores the mask), both at full resolution. Samples
        are drawn where the layout says (per pixel on a grid, per segment)."""
        with torch.no_grad():
            uniforms = (
                self._uniforms(n_per_image) if self.dist.needs_noise or hard else None
            )
        masks, observed = [], []
        for k, layout in enumerate(self.problem.layouts):
            space = layout.sample_space(coarse[k], keep_full[k])
            rows = (
                space if n_per_image == 1 else space.repeat_interleave(n_per_image, 0)
            )
            u = None if uniforms is None else uniforms[k]
            mask = self.dist.hard_sample(rows, u) if hard else self.dist.sample(rows, u)
            masks.append(layout.to_pixels(mask, n_per_image))
            if self.problem.infiller.uses_mask:
                seen = self.dist.observed(mask, u)
                observed.append(layout.to_pixels(seen, n_per_image))
        return masks, observed

    def _uniforms(self, n_per_image: int) -> Masks:
        r"""Per input, uniform noise ``(N * n_per_image, 1, *noise_shape)``
        (pixels on a grid, segments with a ``feature_mask``), each image's rows
        drawn from its own generator."""
        per_input: List[Masks] = [[] for _ in self.problem.inputs]
        for gen in self.generators:
            for k, (x, layout) in enumerate(
                zip(self.problem.inputs, self.problem.layouts)
            ):
                shape = (n_per_image, 1, *layout.noise_shape)
                per_input[k].append(
                    torch.rand(shape, generator=gen, device=x.device, dtype=x.dtype)
                )
        return [torch.cat(u) for u in per_input]

    def scored_chunks(
        self, masks: Masks, refs: Optional[Masks], n_per_image: int
    ) -> Iterator[Tuple[Tensor, Masks, Tensor]]:
        r"""The one chunked evaluation (steps and counterfactuals): for each
        chunk of at most ``internal_batch_size`` rows, yield the rows' images,
        the composed inputs ``phi`` and the target's log-odds on them."""
        problem = self.problem
        n_rows = problem.n * n_per_image
        row_image = torch.arange(problem.n, device=problem.device)
        row_image = row_image.repeat_interleave(n_per_image)
        for rows in row_chunks(n_rows, self.options.internal_batch_size):
            image_rows = row_image[rows]
            # One sample per image in one chunk: the rows are the images.
            whole = n_per_image == 1 and rows.stop - rows.start == n_rows
            with record_function("fido.compose"):
                phi = [
                    self.references.compose(
                        k, rows, None if whole else image_rows, m[rows], refs
                    )
                    for k, m in enumerate(masks)
                ]
            with record_function("fido.classifier_forward"):
                yield image_rows, phi, self.score(phi, image_rows)

    def score(self, phi: Masks, image_rows: Tensor) -> Tensor:
        r"""The target's log-odds on composed inputs (full precision)."""
        options, problem = self.options, self.problem
        if options.channels_last:
            phi = [
                p.contiguous(memory_format=torch.channels_last) if p.dim() == 4 else p
                for p in phi
            ]
        args = select_rows(problem.additional_forward_args, image_rows)
        if options.autocast_dtype is None:
            output = problem.forward_func(*phi, *args)
        else:
            with torch.autocast(problem.device.type, dtype=options.autocast_dtype):
                output = problem.forward_func(*phi, *args)
            output = output.float()
        scores = log_odds(output, problem.target[image_rows], problem.output_type)
        if (
            torch.is_grad_enabled()
            and phi[0].requires_grad
            and not scores.requires_grad
        ):
            # Fail here with the cause rather than inside backward().
            raise ValueError(
                "forward_func's output does not depend differentiably on the "
                "inputs (no gradient reaches them from the target's score): the "
                "mask cannot be optimised. FIDO and BBMP need a differentiable "
                "model that uses its input (no detach, argmax or NumPy inside)."
            )
        return scores

    def warmup(self, step: int) -> float:
        r"""Weight of the regularisers: linear from 0 over the warm-up."""
        warmup_steps = self.options.effective_warmup
        return 1.0 if warmup_steps == 0 else min(1.0, (step + 1) / warmup_steps)

    def regularisers(self, keep_full: Masks) -> Tensor:
        r"""``l1 * area + tv * TV`` per image, ``(N,)`` (``tv`` scaled by the
        sparsity's ``tv_scale``, see :mod:`._sparsity`); area and TV are means
        over pixels times :data:`REFERENCE_PIXELS`. On segments both are taken
        on the gathered full-resolution mask: the area weights each segment by
        its pixel count (still the expected kept or dropped fraction), and TV
        sums squared differences between adjacent segments, weighted by the
        length of their shared border (zero inside a segment; its default
        weight there is 0, see ``MaskOptions.tv_coeff``)."""
        like = keep_full[0]
        l1 = self.sparsity.current.to(like.device, like.dtype)
        tv_scale = self.sparsity.tv_scale.to(like.device, like.dtype)
        reg = like.new_zeros(like.shape[0])
        for kf, tv in zip(keep_full, self.tv_weights):
            region = kf if self.problem.objective == "ssr" else 1.0 - kf
            reg = reg + l1 * region.mean(dim=(1, 2, 3)) * REFERENCE_PIXELS
            if tv > 0:
                tv_term = tv * tv_scale * _total_variation(kf)
                reg = reg + tv_term * REFERENCE_PIXELS
        return reg

    def overlap(self, keep_full: Masks) -> Tensor:
        r"""``avoid_coeff * mean(region * avoid_regions) * REFERENCE_PIXELS``
        per image, ``(N,)`` (zeros without ``avoid_regions``): the area kept
        (SSR) or dropped (SDR) inside regions to avoid."""
        cost = keep_full[0].new_zeros(keep_full[0].shape[0])
        for kf, avoid in zip(keep_full, self.problem.avoid or ()):
            region = kf if self.problem.objective == "ssr" else 1.0 - kf
            cost = cost + (region * avoid).mean(dim=(1, 2, 3))
        return self.options.avoid_coeff * REFERENCE_PIXELS * cost

    def importance(self) -> Tuple[Tensor, ...]:
        r"""The maps: keep probability (SSR) or drop probability (SDR)."""
        return tuple(
            (kf if self.problem.objective == "ssr" else 1.0 - kf).detach().clamp(0, 1)
            for kf in self.expected_masks()
        )

    def region_log_odds(self, regions: Masks) -> Tensor:
        r"""``(N,)`` target log-odds with binary ``regions`` kept (SSR) or
        dropped (SDR) and the rest in-filled, one row per image."""
        keep = [r if self.problem.objective == "ssr" else 1.0 - r for r in regions]
        refs = self.references.per_row(keep, 1)
        scores = torch.cat([s for _, _, s in self.scored_chunks(keep, refs, 1)])
        _check_finite_scores(scores, "on the binary map (hard) after the last step")
        return scores.float().cpu()

    def binarise(self, maps: Tuple[Tensor, ...], level: Tensor) -> _Binary:
        r"""Per image, the map's largest superlevel set ``{map > t}`` (``t``
        from :data:`HARD_THRESHOLDS`, so the mode when it suffices) whose
        in-fill reaches ``level`` (SSR: log-odds at least ``level``, SDR: at
        most); where none does, the one that comes closest."""
        n = self.problem.n
        out = [torch.zeros_like(m) for m in maps]
        score, threshold = torch.zeros(n), torch.zeros(n)
        met = torch.zeros(n, dtype=torch.bool)
        best = torch.full((n,), float("inf"))
        for t in HARD_THRESHOLDS:
            regions = [(m > t).to(m.dtype) for m in maps]
            s = self.region_log_odds(regions)
            # Lower is better for the objective: -s for SSR, +s for SDR.
            meets = self.sign * s <= self.sign * level
            take = (meets & ~met) | (~met & (self.sign * s < best))
            best = torch.where(take, self.sign * s, best)
            score, threshold = (
                torch.where(take, s, score),
                threshold.masked_fill(take, t),
            )
            for o, r in zip(out, regions):
                o[take.to(o.device)] = r[take.to(o.device)]
            met |= meets
            if bool(met.all()):
                break
        return _Binary(tuple(out), score, threshold, met)

    def counterfactuals(self) -> _Samples:
        r"""``n_counterfactuals`` binary masks per image drawn from the final
        distribution, the in-filled images and the target's log-odds."""
        n, k_cf = self.problem.n, self.options.n_counterfactuals
        coarse = self.keep_probability()
        masks, observed = self.sample(
            coarse, self.expected_masks(coarse), k_cf, hard=True
        )
        refs = self.references.per_row(observed, k_cf)
        counterfactuals: List[Masks] = [[] for _ in masks]
        scores = []
        for _, phi, s in self.scored_chunks(masks, refs, k_cf):
            for store, p in zip(counterfactuals, phi):
                store.append(p)
            scores.append(s)
        per_image = torch.cat(scores).view(n, k_cf).sum(dim=1)
        _check_finite_scores(per_image, "on the counterfactuals after the last step")
        return _Samples(
            tuple(torch.cat(c).view(n, k_cf, *c[0].shape[1:]) for c in counterfactuals),
            tuple(m.view(n, k_cf, *m.shape[1:]) for m in masks),
            torch.cat(scores).view(n, k_cf).float().cpu(),
        )

    def details(
        self, samples: _Samples, binary: Optional[_Binary]
    ) -> MaskOptimizationDetails:
        r"""The run's record, with its counterfactual ``samples`` and, with
        ``hard``, the binary maps' scores."""
        steps, cf_log_odds = self.steps_run, samples.log_odds
        hard = None if binary is None else binary.log_odds
        sparsity, filled = self.sparsity, self.problem.infilled_log_odds
        final = cf_log_odds.mean(dim=1)
        return MaskOptimizationDetails(
            method=self.dist.name,
            objective=self.problem.objective,
            mask_params=tuple(p.detach().clone() for p in self.params),
            keep_prob=tuple(p.detach().clone() for p in self.keep_probability()),
            loss_history=self.loss_history[:, :steps].clone(),
            log_odds_history=self.score_history[:, :steps].clone(),
            clean_log_odds=self.problem.clean_log_odds.detach().float().cpu(),
            final_log_odds=final,
            counterfactuals=samples.images,
            counterfactual_masks=samples.masks,
            counterfactual_log_odds=cf_log_odds,
            counterfactual_probs=torch.sigmoid(cf_log_odds),
            steps_run=steps,
            hard_log_odds=hard,
            hard_probs=None if hard is None else torch.sigmoid(hard),
            hard_threshold=None if binary is None else binary.threshold,
            hard_met=None if binary is None else binary.met,
            infilled_log_odds=None if filled is None else filled.detach().float().cpu(),
            l1_weights=sparsity.current.float(),
        )


def _check_finite_scores(scores: Tensor, when: str) -> None:
    r"""Stop on a NaN or infinite target score, ``scores`` ``(N,)`` per image.

    The clean pass is checked up front, but a model can still fail on
    in-filled inputs (values or patterns it never saw); left alone, one such
    score turns the image's map into NaN without a word.
    """
    finite = torch.isfinite(scores)
    if bool(finite.all()):
        return
    bad = (~finite).nonzero().flatten().tolist()
    raise ValueError(
        f"the model returned a non-finite score (NaN or infinity) for image "
        f"{bad[0]} {when} on in-filled inputs (images {bad} of the batch): the "
        "model breaks on the infiller's output. "
        "Check that it accepts in-filled values (range, dtype, no log or "
        "division that fails on them), or use another infiller."
    )


def _total_variation(mask: Tensor) -> Tensor:
    r"""Mean squared difference between neighbours, per image, ``(N,)``."""
    dh = (mask[:, :, 1:, :] - mask[:, :, :-1, :]).pow(2).sum(dim=(1, 2, 3))
    dw = (mask[:, :, :, 1:] - mask[:, :, :, :-1]).pow(2).sum(dim=(1, 2, 3))
    return (dh + dw) / float(mask.shape[-2] * mask.shape[-1])
