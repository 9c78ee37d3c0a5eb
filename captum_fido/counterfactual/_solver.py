r"""One solve of the latent counterfactual search: Adam on the latent codes.

For fixed per-row trade-offs ``lambda`` it minimises

    lambda * loss(s(C(G(A')), c')) + ||I - G(A')||_1

over the latent codes ``A'``, where ``s`` is the target's log-odds
(:func:`captum_fido._utils.scores.log_odds`, so one-output binary classifiers
work like ``(N, C)`` ones) and ``loss`` the cross-entropy
``-log p(c') = softplus(-s)`` or a hinge on ``s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_fido._utils.rows import select_rows
from captum_fido._utils.scores import is_single_output, log_odds

__all__ = [
    "Solution",
    "Solver",
    "class_loss",
    "confidence",
    "predicted_class",
    "record_steps",
]

TensorOrTuple = Union[Tensor, Tuple[Tensor, ...]]

#: The learning rate decays along a cosine to this share of ``lr``: the L1 term
#: is not smooth, and Adam with a constant step keeps jittering around zero
#: changes instead of settling on them.
FINAL_LR_SHARE = 0.01
#: Extra log-odds the hinge asks for beyond the threshold, so the settled
#: solution lands on the successful side of it.
HINGE_MARGIN = 0.01


def confidence(output: Tensor, target: Tensor, output_type: str) -> Tensor:
    r"""``p(target)`` per row: the sigmoid of the target's log-odds."""
    return torch.sigmoid(log_odds(output, target, output_type))


def predicted_class(output: Tensor, output_type: str) -> Tensor:
    r"""The classifier's class per row; for one binary output, class 1 when
    its log-odds are positive (``logit > 0``)."""
    if is_single_output(output):
        ones = torch.ones(output.shape[0], dtype=torch.long, device=output.device)
        return (log_odds(output, ones, output_type) > 0).long()
    # argmax is the same for logits, probabilities and log-probabilities.
    return output.argmax(dim=1)


def class_loss(
    output: Tensor, target: Tensor, kind: str, kappa: Tensor, output_type: str
) -> Tensor:
    r"""Per-row classification term on the target's log-odds ``s``: the
    cross-entropy ``-log p(c') = softplus(-s)`` (exactly, ``p = sigmoid(s)``),
    or the hinge ``max(0, kappa - s)``."""
    s = log_odds(output, target, output_type)
    if kind == "cross_entropy":
        return F.softplus(-s)
    return F.relu(kappa - s)


def hinge_kappa(min_conf: Tensor) -> Tensor:
    r"""Log-odds the hinge aims for: those of ``min_confidence``, at least 0
    (log-odds above 0 make the target the top class), plus a margin."""
    q = min_conf.clamp(min=0.5)
    return torch.log(q) - torch.log1p(-q) + HINGE_MARGIN


def cosine_share(step: int, n_steps: int) -> float:
    cosine = 0.5 * (1.0 + math.cos(math.pi * step / max(n_steps, 1)))
    return FINAL_LR_SHARE + (1.0 - FINAL_LR_SHARE) * cosine


def record_steps(n_steps: int, path_length: int) -> List[int]:
    r"""``path_length`` steps from 0 to ``n_steps`` inclusive, evenly spaced
    (fewer distinct ones when ``n_steps + 1 < path_length``)."""
    raw = torch.linspace(0, n_steps, path_length).round().long().tolist()
    return sorted(set(int(s) for s in raw))


def as_tuple(value: TensorOrTuple) -> Tuple[Tensor, ...]:
    return value if isinstance(value, tuple) else (value,)


@dataclass
class Solution:
    r"""One solve's end state for a set of rows, all detached."""

    latent: Tensor
    images: Tuple[Tensor, ...]
    confidence: Tensor
    predicted: Tensor
    success: Tensor
    path: Tuple[Tensor, ...]
    path_confidence: Tensor

    def overwrite(self, rows: Tensor, other: Solution, mask: Tensor) -> None:
        r"""Replace ``rows`` with ``other``'s rows selected by ``mask``."""
        self.latent[rows] = other.latent[mask]
        for mine, theirs in zip(self.images, other.images):
            mine[rows] = theirs[mask]
        for mine, theirs in zip(self.path, other.path):
            mine[rows] = theirs[mask]
        self.confidence[rows] = other.confidence[mask]
        self.predicted[rows] = other.predicted[mask]
        self.success[rows] = other.success[mask]
        self.path_confidence[rows] = other.path_confidence[mask]


@dataclass
class _Path:
    r"""Images and target confidences recorded along one solve."""

    images: List[List[Tensor]]
    confidence: List[Tensor]

    def add(self, images: Tuple[Tensor, ...], conf: Tensor) -> None:
        # Clone: a generator may return a view of the latent code, which Adam
        # updates in place.
        for store, img in zip(self.images, images):
            store.append(img.detach().clone())
        self.confidence.append(conf)


class Solver:
    r"""Adam on the latent codes for fixed per-row lambdas.

    Args:
        classifier, generator: ``C`` and ``G``.
        inputs: The query images ``I`` (all rows).
        args: ``additional_forward_args`` of the classifier (all rows).
        n_steps, lr, loss: As in :class:`SearchOptions`.
        steps: The Adam steps whose images are recorded on the path.
        output_type: What the classifier returns (``"logits"``, ...).
    """

    def __init__(
        self,
        classifier: Callable[..., Tensor],
        generator: Callable[[Tensor], TensorOrTuple],
        inputs: Tuple[Tensor, ...],
        args: Optional[Tuple[Any, ...]],
        n_steps: int,
        lr: float,
        loss: str,
        steps: Sequence[int],
        output_type: str,
    ) -> None:
        self.classifier = classifier
        self.generator = generator
        self.inputs = inputs
        self.args = args
        self.n_steps = n_steps
        self.lr = lr
        self.loss = loss
        self.steps = list(steps)
        self.output_type = output_type

    def __call__(
        self,
        z0: Tensor,
        target: Tensor,
        lam: Tensor,
        min_conf: Tensor,
        rows: Optional[Tensor],
        bar: Any,
    ) -> Solution:
        r"""Solve from ``z0`` for the image ``rows`` (``None``: all rows)."""
        inputs = self.inputs if rows is None else tuple(x[rows] for x in self.inputs)
        if rows is None:
            args: Tuple[Any, ...] = self.args or ()
        else:
            args = select_rows(self.args, rows)
        latent = z0.detach().clone().requires_grad_(True)
        path = _Path([[] for _ in inputs], [])
        images, output = self._descend(
            latent, inputs, args, target, lam.to(z0.dtype), min_conf, path, bar
        )
        output = output.detach()
        conf = confidence(output, target, self.output_type)
        predicted = predicted_class(output, self.output_type)
        return Solution(
            latent=latent.detach().clone(),
            images=tuple(img.detach().clone() for img in images),
            confidence=conf,
            predicted=predicted,
            success=(predicted == target) & (conf >= min_conf),
            path=tuple(torch.stack(store, dim=1) for store in path.images),
            path_confidence=torch.stack(path.confidence, dim=1),
        )

    def _descend(
        self,
        latent: Tensor,
        inputs: Tuple[Tensor, ...],
        args: Tuple[Any, ...],
        target: Tensor,
        lam: Tensor,
        min_conf: Tensor,
        path: _Path,
        bar: Any,
    ) -> Tuple[Tuple[Tensor, ...], Tensor]:
        r"""The Adam steps; returns the last images and classifier output."""
        kappa = hinge_kappa(min_conf).to(latent.dtype)
        optimizer = torch.optim.Adam([latent], lr=self.lr)
        for step in range(self.n_steps + 1):
            images = as_tuple(self.generator(latent))
            output = self.classifier(*images, *args)
            if step in self.steps:
                path.add(images, confidence(output.detach(), target, self.output_type))
            if step == self.n_steps:
                break
            term = class_loss(output, target, self.loss, kappa, self.output_type)
            l1 = sum(
                (x - img).abs().flatten(1).sum(1) for x, img in zip(inputs, images)
            )
            loss = (lam * term + l1).sum()
            # Only the latent code gets a gradient: the models' parameters and
            # their .grad fields are never touched.
            (grad,) = torch.autograd.grad(loss, [latent])
            latent.grad = grad
            for group in optimizer.param_groups:
                group["lr"] = self.lr * cosine_share(step, self.n_steps)
            optimizer.step()
            bar.update(1)
        return images, output
