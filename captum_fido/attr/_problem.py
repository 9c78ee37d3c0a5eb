r"""What one run of the mask-optimisation loop explains, and where its
in-fill comes from.

:class:`MaskProblem` holds the validated classifier, inputs, targets,
infiller and per-run choices; :func:`with_reference_log_odds` measures its
clean and fully in-filled log-odds; :class:`References` composes
``phi = ref + keep * (x - ref)`` for the loop (:mod:`._loop`), computing the
references once or per row as the infiller needs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

import torch
from torch import Tensor

from captum_fido._utils.rows import row_chunks, select_rows
from captum_fido._utils.scores import log_odds
from captum_fido.attr._masks import MaskLayout
from captum_fido.infillers import Infiller

__all__ = [
    "MaskProblem",
    "with_reference_log_odds",
    "References",
    "check_finite_scores",
    "Masks",
    "Images",
]

#: Per input, one tensor of keep-masks ``(rows, 1, H, W)`` (or their
#: probabilities, or the uniform noise they are drawn from).
Masks = List[Tensor]
#: Per input, one tensor of images ``(rows, C, H, W)``: in-fill references or
#: composed inputs ``phi``.
Images = List[Tensor]


@dataclass(frozen=True, kw_only=True)
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
        refs = [full_infill(problem, x).to(x.dtype) for x in problem.inputs]
        rows = torch.arange(n, device=problem.device).repeat(2)
        both = [torch.cat([x, r]) for x, r in zip(problem.inputs, refs)]
        args = select_rows(problem.additional_forward_args, rows)
        output = problem.forward_func(*both, *args)
        scores = log_odds(output, problem.target[rows], problem.output_type)
    check_finite_scores(scores[n:], "with every pixel in-filled (before step 0)")
    return dataclasses.replace(
        problem,
        clean_log_odds=scores[:n].detach(),
        infilled_log_odds=scores[n:].detach(),
    )


def full_infill(problem: MaskProblem, x: Tensor) -> Tensor:
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


class References:
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

    def per_row(self, observed: Masks, n_per_image: int) -> Optional[Images]:
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
        refs: Optional[Images],
    ) -> Tensor:
        r"""``phi = ref + keep * (x - ref)`` for ``rows`` of input ``k``;
        ``image_rows`` maps them to images (``None``: the rows are the images)."""

        def take(t: Tensor) -> Tensor:
            return t if image_rows is None else t.index_select(0, image_rows)

        if refs is None:
            return take(self.refs[k]) + keep * take(self.diffs[k])
        ref = refs[k][rows]
        return ref + keep * (take(self.problem.inputs[k]) - ref)


def check_finite_scores(scores: Tensor, when: str) -> None:
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
