r"""The mask-optimisation loop shared by FIDO and BBMP.

Both methods minimise, per image,

    E_q[ sign * s(phi(x, z)) ] + w_t * (l1 * area + tv * TV)

over the parameters of a keep-mask distribution ``q`` on a coarse grid, where
``phi(x, z) = z * x + (1 - z) * infill(x, z)``, ``s`` is the target's log-odds,
``sign`` is ``-1`` for SSR (keep the class with little) and ``+1`` for SDR
(lose the class by dropping little), ``area`` is the expected fraction kept
(SSR) or dropped (SDR) times 224*224, and ``w_t`` warms the regularisers up.
FIDO and BBMP differ only in ``q`` (:mod:`captum_fido.attr._masks`).

The ``N`` images of a call are optimised together: every step evaluates the
classifier once on ``N * batch_size`` rows (in chunks of ``max_batch_size``
rows when given). Each image draws its random numbers from its own generator
seeded with the run's seed, so a batched call equals separate calls.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.autograd.profiler import record_function
from tqdm.auto import tqdm

from captum_fido._utils.scores import log_odds
from captum_fido.attr._details import MaskOptimizationDetails
from captum_fido.attr._masks import MaskDistribution, upsample
from captum_fido.infillers._base import check_infill_output

__all__ = ["LoopConfig", "optimize_masks", "REFERENCE_PIXELS"]

#: The reference implementation applies its L1 coefficient to the sum of a
#: 224 x 224 mask; coefficients here multiply mean(mask) * REFERENCE_PIXELS so
#: the same value behaves the same at any resolution.
REFERENCE_PIXELS = 224 * 224


@dataclass(frozen=True)
class LoopConfig:
    r"""Hyper-parameters of one run, already validated."""

    objective: str
    n_steps: int
    batch_size: int
    lr: float
    l1_coeff: float
    tv_coeff: float
    reg_warmup_steps: int
    grids: Tuple[Tuple[int, int], ...]
    seed: int
    output_type: str
    show_progress: bool = False
    max_batch_size: Optional[int] = None
    n_counterfactuals: int = 4
    return_details: bool = False
    stop_tol: Optional[float] = None
    stop_patience: int = 10
    autocast_dtype: Optional[torch.dtype] = None
    channels_last: bool = False


def _generators(seed: int, n: int, device: torch.device) -> List[torch.Generator]:
    return [torch.Generator(device=device).manual_seed(seed) for _ in range(n)]


def _call_infiller(
    infiller: Callable[..., Tensor],
    x: Tensor,
    keep: Tensor,
    generator: Optional[torch.Generator],
) -> Tensor:
    with torch.no_grad():
        if getattr(infiller, "stochastic", False):
            ref = infiller(x, keep, generator=generator)
        else:
            ref = infiller(x, keep)
    # Infiller subclasses check themselves; plain callables are checked here.
    if not hasattr(infiller, "fill"):
        check_infill_output(ref, x, type(infiller).__name__)
    return ref.detach()


def _total_variation(mask: Tensor) -> Tensor:
    r"""Mean squared difference between neighbours, per image, ``(N,)``."""
    dh = (mask[:, :, 1:, :] - mask[:, :, :-1, :]).pow(2).sum(dim=(1, 2, 3))
    dw = (mask[:, :, :, 1:] - mask[:, :, :, :-1]).pow(2).sum(dim=(1, 2, 3))
    return (dh + dw) / float(mask.shape[-2] * mask.shape[-1])


def _select_rows(args: Optional[Tuple[Any, ...]], rows: Tensor) -> Tuple[Any, ...]:
    if args is None:
        return ()
    return tuple(
        a.index_select(0, rows.to(a.device))
        if isinstance(a, Tensor) and a.dim() > 0
        else a
        for a in args
    )


def _row_chunks(n_rows: int, max_rows: Optional[int]) -> Iterator[Tuple[int, int]]:
    step = n_rows if max_rows is None else max_rows
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


class _Problem:
    r"""Everything fixed for one run: inputs, rows, references, generators."""

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        inputs: Tuple[Tensor, ...],
        target: Tensor,
        additional_forward_args: Optional[Tuple[Any, ...]],
        infiller: Callable[..., Tensor],
        distribution: MaskDistribution,
        config: LoopConfig,
    ) -> None:
        self.forward_func = forward_func
        self.inputs = tuple(x.detach() for x in inputs)
        self.target = target
        self.args = additional_forward_args
        self.infiller = infiller
        self.dist = distribution
        self.config = config
        self.n = inputs[0].shape[0]
        self.device = inputs[0].device
        self.sizes: List[Tuple[int, int]] = [
            (int(x.shape[-2]), int(x.shape[-1])) for x in inputs
        ]
        self.generators = _generators(config.seed, self.n, self.device)
        self.uses_mask = bool(getattr(infiller, "uses_mask", True))
        self.stochastic = bool(getattr(infiller, "stochastic", False))
        # A reference that depends neither on the mask nor on chance is the
        # same at every step: compute it once (Mean, Blur).
        self.static_refs: Optional[List[Tensor]] = None
        self.static_diffs: Optional[List[Tensor]] = None
        if not self.uses_mask and not self.stochastic:
            self.static_refs = [
                _call_infiller(infiller, x, torch.ones_like(x[:, :1]), None)
                for x in self.inputs
            ]
            self.static_diffs = [x - r for x, r in zip(self.inputs, self.static_refs)]

    def score(self, phi: Sequence[Tensor], image_rows: Tensor) -> Tensor:
        args = _select_rows(self.args, image_rows)
        if self.config.channels_last:
            phi = [
                p.contiguous(memory_format=torch.channels_last) if p.dim() == 4 else p
                for p in phi
            ]
        if self.config.autocast_dtype is None:
            output = self.forward_func(*phi, *args)
        else:
            with torch.autocast(self.device.type, dtype=self.config.autocast_dtype):
                output = self.forward_func(*phi, *args)
            # The log-odds and everything after them stay in full precision.
            output = output.float()
        return log_odds(output, self.target[image_rows], self.config.output_type)

    def uniforms(self, n_samples: int) -> List[Tensor]:
        r"""Per-input uniform noise ``(N * n_samples, 1, H, W)``, image-ordered."""
        per_input: List[List[Tensor]] = [[] for _ in self.inputs]
        for gen in self.generators:
            for k, (h, w) in enumerate(self.sizes):
                per_input[k].append(
                    torch.rand(
                        (n_samples, 1, h, w),
                        generator=gen,
                        device=self.device,
                        dtype=self.inputs[k].dtype,
                    )
                )
        return [torch.cat(u, dim=0) for u in per_input]

    def stochastic_refs(self, observed: List[Tensor], n_samples: int) -> List[Tensor]:
        r"""References for all rows, each image from its own generator."""
        refs = []
        for k, x in enumerate(self.inputs):
            parts = []
            for i, gen in enumerate(self.generators):
                rows = slice(i * n_samples, (i + 1) * n_samples)
                x_rows = x[i : i + 1].expand(n_samples, *x.shape[1:])
                keep = (
                    observed[k][rows]
                    if self.uses_mask
                    else torch.ones_like(x_rows[:, :1])
                )
                parts.append(_call_infiller(self.infiller, x_rows, keep, gen))
            refs.append(torch.cat(parts, dim=0))
        return refs

    def compose(
        self,
        k: int,
        rows: slice,
        image_rows: Optional[Tensor],
        keep: Tensor,
        observed: List[Tensor],
        all_refs: Optional[List[Tensor]],
    ) -> Tensor:
        r"""``phi = ref + keep * (x - ref)`` for a chunk of rows of input ``k``.

        ``image_rows`` maps rows to images; ``None`` when the rows are the
        images themselves (one sample per image, one chunk), which saves the
        gathers.
        """

        def take(t: Tensor) -> Tensor:
            return t if image_rows is None else t.index_select(0, image_rows)

        if self.static_refs is not None and self.static_diffs is not None:
            return take(self.static_refs[k]) + keep * take(self.static_diffs[k])
        x_rows = take(self.inputs[k])
        if all_refs is not None:
            ref = all_refs[k][rows]
        else:
            observed_rows = (
                observed[k][rows] if self.uses_mask else torch.ones_like(x_rows[:, :1])
            )
            with record_function("fido.infill"):
                ref = _call_infiller(self.infiller, x_rows, observed_rows, None)
        return ref + keep * (x_rows - ref)


def _regularisers(keep_full: Sequence[Tensor], config: LoopConfig) -> Tensor:
    r"""``l1 * area + tv * TV`` per image, ``(N,)``; area and TV are means over
    pixels times :data:`REFERENCE_PIXELS`."""
    reg = keep_full[0].new_zeros(keep_full[0].shape[0])
    for kf in keep_full:
        region = kf if config.objective == "ssr" else 1.0 - kf
        reg = reg + config.l1_coeff * region.mean(dim=(1, 2, 3)) * REFERENCE_PIXELS
        if config.tv_coeff > 0:
            reg = reg + config.tv_coeff * _total_variation(kf) * REFERENCE_PIXELS
    return reg


def _converged(
    distribution: MaskDistribution,
    params: Sequence[Tensor],
    history: Deque[List[Tensor]],
    step: int,
    config: LoopConfig,
) -> bool:
    r"""Whether every image's mask has settled.

    Settled means: after the regulariser warm-up, the mean absolute change of
    the coarse keep probabilities over the last ``stop_patience`` steps is
    below ``stop_tol`` for every image. A window, not a single step, because
    one Adam step moves a probability by at most about ``lr / 4``.
    """
    with torch.no_grad():
        current = [distribution.keep_probability(p).detach().clone() for p in params]
    full = len(history) == history.maxlen
    oldest = history[0] if full else None
    history.append(current)
    if oldest is None or step + 1 < config.reg_warmup_steps + config.stop_patience:
        return False
    change = torch.stack(
        [(c - o).abs().flatten(1).mean(dim=1) for c, o in zip(current, oldest)]
    ).amax(dim=0)
    tol = config.stop_tol if config.stop_tol is not None else 0.0
    return bool((change < tol).all())


def _keep_full(problem: _Problem, params: Sequence[Tensor]) -> List[Tensor]:
    return [
        upsample(problem.dist.keep_probability(p), size)
        for p, size in zip(params, problem.sizes)
    ]


def optimize_masks(
    forward_func: Callable[..., Tensor],
    inputs: Tuple[Tensor, ...],
    target: Tensor,
    additional_forward_args: Optional[Tuple[Any, ...]],
    infiller: Callable[..., Tensor],
    distribution: MaskDistribution,
    config: LoopConfig,
    clean_log_odds: Tensor,
) -> Tuple[Tuple[Tensor, ...], Optional[MaskOptimizationDetails]]:
    r"""Optimise one mask distribution per image; return the importance maps.

    Returns:
        ``(importance, details)``: per input an ``(N, 1, H, W)`` map in
        ``[0, 1]`` (keep probability for SSR, drop probability for SDR), and
        :class:`MaskOptimizationDetails` when ``config.return_details``.
    """
    problem = _Problem(
        forward_func,
        inputs,
        target,
        additional_forward_args,
        infiller,
        distribution,
        config,
    )
    n, b = problem.n, config.batch_size
    n_rows = n * b
    sign = -1.0 if config.objective == "ssr" else 1.0
    row_image = torch.arange(n, device=problem.device).repeat_interleave(b)

    params = [
        distribution.init_params(n, grid, x).requires_grad_(True)
        for grid, x in zip(config.grids, problem.inputs)
    ]
    optimizer = torch.optim.Adam(params, lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: max(0.0, 1.0 - t / config.n_steps)
    )
    loss_history = torch.zeros(n, config.n_steps)
    score_history = torch.zeros(n, config.n_steps)
    # Coarse keep probabilities of the last stop_patience steps (early stop).
    history: Deque[List[Tensor]] = deque(maxlen=config.stop_patience)
    steps_run = 0

    bar = tqdm(
        range(config.n_steps),
        desc=f"{distribution.name}-{config.objective.upper()}",
        disable=not config.show_progress,
        leave=False,
        mininterval=0.5,
    )
    for step in bar:
        optimizer.zero_grad(set_to_none=True)
        with record_function("fido.mask_sample"):
            keep_full = _keep_full(problem, params)
            with torch.no_grad():
                uniforms = problem.uniforms(b) if distribution.needs_noise else None
            samples = [
                distribution.sample(
                    kf if b == 1 else kf.repeat_interleave(b, dim=0),
                    None if uniforms is None else uniforms[k],
                )
                for k, kf in enumerate(keep_full)
            ]
            # Only infillers that look at the mask need the binary mask.
            observed = (
                [
                    distribution.observed(s, None if uniforms is None else uniforms[k])
                    for k, s in enumerate(samples)
                ]
                if problem.uses_mask
                else []
            )
        with record_function("fido.infill"):
            all_refs = (
                problem.stochastic_refs(observed, b) if problem.stochastic else None
            )

        score_sum = torch.zeros(n, device=problem.device, dtype=torch.float64)
        for start, stop in _row_chunks(n_rows, config.max_batch_size):
            rows = slice(start, stop)
            image_rows = row_image[rows]
            whole = b == 1 and start == 0 and stop == n_rows
            with record_function("fido.compose"):
                phi = [
                    problem.compose(
                        k,
                        rows,
                        None if whole else image_rows,
                        samples[k][rows],
                        observed,
                        all_refs,
                    )
                    for k in range(len(problem.inputs))
                ]
            with record_function("fido.classifier_forward"):
                s = problem.score(phi, image_rows)
                chunk_loss = (sign / b) * s.sum()
            with record_function("fido.backward"):
                chunk_loss.backward(inputs=params, retain_graph=True)
            score_sum.index_add_(0, image_rows, s.detach().to(torch.float64))
            del phi, s, chunk_loss

        warmup = (
            1.0
            if config.reg_warmup_steps == 0
            else min(1.0, (step + 1) / config.reg_warmup_steps)
        )
        with record_function("fido.regularisers"):
            reg = warmup * _regularisers(keep_full, config)
            reg.sum().backward(inputs=params)
        with record_function("fido.optimizer"):
            optimizer.step()
            scheduler.step()
            for p in params:
                distribution.project(p)

        mean_score = (score_sum / b).to(torch.float32).cpu()
        loss_history[:, step] = sign * mean_score + reg.detach().float().cpu()
        score_history[:, step] = mean_score
        steps_run = step + 1
        if config.show_progress and (step % 10 == 0 or step + 1 == config.n_steps):
            bar.set_postfix(
                loss=f"{loss_history[:, step].mean():.3f}",
                log_odds=f"{mean_score.mean():.2f}",
            )
        del keep_full, samples, observed, all_refs, uniforms

        if config.stop_tol is not None and _converged(
            distribution, params, history, step, config
        ):
            break
    bar.close()

    with torch.no_grad():
        keep_final = _keep_full(problem, params)
        importance = tuple(
            (kf if config.objective == "ssr" else 1.0 - kf).detach().clamp(0.0, 1.0)
            for kf in keep_final
        )
        details = None
        if config.return_details:
            details = _details(
                problem,
                params,
                keep_final,
                loss_history[:, :steps_run],
                score_history[:, :steps_run],
                clean_log_odds,
                steps_run,
            )
    return importance, details


def _details(
    problem: _Problem,
    params: Sequence[Tensor],
    keep_final: Sequence[Tensor],
    loss_history: Tensor,
    score_history: Tensor,
    clean_log_odds: Tensor,
    steps_run: int,
) -> MaskOptimizationDetails:
    r"""Draw counterfactuals from the final distribution and score them."""
    dist, config = problem.dist, problem.config
    n, k_cf = problem.n, config.n_counterfactuals
    row_image = torch.arange(n, device=problem.device).repeat_interleave(k_cf)
    uniforms = problem.uniforms(k_cf)
    masks = [
        dist.hard_sample(kf.repeat_interleave(k_cf, dim=0), u)
        for kf, u in zip(keep_final, uniforms)
    ]
    observed = [dist.observed(m, u) for m, u in zip(masks, uniforms)]
    all_refs = problem.stochastic_refs(observed, k_cf) if problem.stochastic else None
    counterfactuals: List[List[Tensor]] = [[] for _ in problem.inputs]
    scores = []
    for start, stop in _row_chunks(n * k_cf, config.max_batch_size):
        rows = slice(start, stop)
        image_rows = row_image[rows]
        phi = [
            problem.compose(k, rows, image_rows, masks[k][rows], observed, all_refs)
            for k in range(len(problem.inputs))
        ]
        for k, p in enumerate(phi):
            counterfactuals[k].append(p)
        scores.append(problem.score(phi, image_rows))
    cf_log_odds = torch.cat(scores).view(n, k_cf).float().cpu()
    return MaskOptimizationDetails(
        method=dist.name,
        objective=config.objective,
        mask_params=tuple(p.detach().clone() for p in params),
        keep_prob=tuple(dist.keep_probability(p).detach().clone() for p in params),
        loss_history=loss_history.clone(),
        log_odds_history=score_history.clone(),
        clean_log_odds=clean_log_odds.detach().float().cpu(),
        final_log_odds=cf_log_odds.mean(dim=1),
        counterfactuals=tuple(
            torch.cat(c).view(n, k_cf, *c[0].shape[1:]) for c in counterfactuals
        ),
        counterfactual_masks=tuple(m.view(n, k_cf, *m.shape[1:]) for m in masks),
        counterfactual_log_odds=cf_log_odds,
        counterfactual_probs=torch.sigmoid(cf_log_odds),
        steps_run=steps_run,
    )
