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
binary one that meets the objective (:func:`._outcome.binarise`).
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.profiler import record_function
from tqdm.auto import tqdm

from captum_fido._utils.rows import row_chunks, select_rows
from captum_fido._utils.scores import log_odds, marginal_log_odds
from captum_fido.attr._details import MaskOptimizationDetails
from captum_fido.attr._masks import GridLayout, MaskDistribution
from captum_fido.attr._options import MaskOptions
from captum_fido.attr._outcome import binarise, counterfactuals, details
from captum_fido.attr._problem import (
    Images,
    MaskProblem,
    Masks,
    References,
    check_finite_scores,
    with_reference_log_odds,
)
from captum_fido.attr._sparsity import SparsityWeights
from captum_fido.attr._stopping import EarlyStop

# MaskProblem and with_reference_log_odds live in ._problem; they stay
# importable from here, where the loop that runs them is.
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


def optimize_masks(
    problem: MaskProblem, distribution: MaskDistribution, options: MaskOptions
) -> Tuple[Tuple[Tensor, ...], Optional[MaskOptimizationDetails]]:
    r"""Optimise one mask distribution per image; return the importance maps.

    Returns:
        ``(importance, details)``: per input an ``(N, 1, H, W)`` map in
        ``[0, 1]`` (keep probability for SSR, drop probability for SDR; with
        ``options.hard`` the binary map of :func:`._outcome.binarise`), and
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
        samples = counterfactuals(run)
        level = samples.log_odds.mean(dim=1)
        binary = binarise(run, maps, level) if options.hard else None
        maps = maps if binary is None else binary.maps
        record = details(run, samples, binary) if options.return_details else None
        return maps, record


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
        self.references = References(problem, self.generators)
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
        b, fills = self.options.n_samples, self.options.n_infills
        self.dist.anneal(step / max(1, self.options.n_steps - 1))
        with record_function("fido.mask_sample"):
            keep_full = self.expected_masks(coarse)
            masks, observed = self.sample(coarse, keep_full, b, binary=False)
            if fills > 1:  # each mask's rows side by side, one fill each
                masks = [m.repeat_interleave(fills, 0) for m in masks]
                observed = [o.repeat_interleave(fills, 0) for o in observed]
        with record_function("fido.infill"):
            refs = self.references.per_row(observed, b * fills)
        score_sum = torch.zeros(
            self.problem.n, device=self.problem.device, dtype=torch.float64
        )
        for image_rows, _, s in self.scored_chunks(masks, refs, b * fills, fills):
            with record_function("fido.backward"):
                ((weight * self.sign / b) * s.sum()).backward(
                    inputs=params, retain_graph=True
                )
            score_sum.index_add_(0, image_rows, s.detach().to(torch.float64))
        # A NaN or infinite score in any sample makes its image's sum
        # non-finite: one check (one sync) per step, before Adam's step.
        check_finite_scores(score_sum, f"at step {step}")
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
        self, coarse: Masks, keep_full: Masks, n_per_image: int, binary: bool
    ) -> Tuple[Masks, Masks]:
        r"""``n_per_image`` keep-masks per image (differentiable for a step,
        or binary draws, ``binary``, for the counterfactuals), and the binary
        masks the infiller may observe (empty when the infiller ignores the
        mask), both at full resolution. Samples are drawn where the layout
        says (per pixel on a grid, per segment)."""
        with torch.no_grad():
            uniforms = (
                self._uniforms(n_per_image) if self.dist.needs_noise or binary else None
            )
        masks, observed = [], []
        for k, layout in enumerate(self.problem.layouts):
            space = layout.sample_space(coarse[k], keep_full[k])
            rows = (
                space if n_per_image == 1 else space.repeat_interleave(n_per_image, 0)
            )
            u = None if uniforms is None else uniforms[k]
            mask = (
                self.dist.hard_sample(rows, u) if binary else self.dist.sample(rows, u)
            )
            masks.append(layout.to_pixels(mask, n_per_image))
            if not self.problem.infiller.uses_mask:
                continue
            if self.dist.observes_cells:
                # BBMP-CA: r = 1[m > tau] per cell (see ContinuousMask).
                cells = coarse[k]
                if n_per_image > 1:
                    cells = cells.repeat_interleave(n_per_image, 0)
                seen = self.dist.observed(cells, u)
                observed.append(layout.cells_to_pixels(seen, n_per_image))
            else:
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
        self,
        masks: Masks,
        refs: Optional[Images],
        n_per_image: int,
        fills: int = 1,
    ) -> Iterator[Tuple[Tensor, Images, Tensor]]:
        r"""The one chunked evaluation (steps and counterfactuals): for each
        chunk of at most ``internal_batch_size`` rows, yield the rows' images,
        the composed inputs ``phi`` and the target's log-odds on them. With
        ``fills > 1`` every run of ``fills`` rows is one mask's in-fills: a
        chunk holds whole runs, and yields one row per mask whose log-odds is
        that of the fills' mean probability (the paper's marginal, Eq. 1)."""
        problem = self.problem
        n_rows = problem.n * n_per_image
        row_image = torch.arange(problem.n, device=problem.device)
        row_image = row_image.repeat_interleave(n_per_image)
        most = self.options.internal_batch_size
        most = None if most is None else max(fills, most // fills * fills)
        for rows in row_chunks(n_rows, most):
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
                scores = self.score(phi, image_rows)
            if fills > 1:
                scores = marginal_log_odds(scores.view(-1, fills))
                image_rows = image_rows[::fills]
            yield image_rows, phi, scores

    def score(self, phi: Images, image_rows: Tensor) -> Tensor:
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


def _total_variation(mask: Tensor) -> Tensor:
    r"""Mean squared difference between neighbours, per image, ``(N,)``."""
    dh = (mask[:, :, 1:, :] - mask[:, :, :-1, :]).pow(2).sum(dim=(1, 2, 3))
    dw = (mask[:, :, :, 1:] - mask[:, :, :, :-1]).pow(2).sum(dim=(1, 2, 3))
    return (dh + dw) / float(mask.shape[-2] * mask.shape[-1])
