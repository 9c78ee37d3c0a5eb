r"""Training the amortised explainer on FIDO's own loss.

Each batch of images is one :class:`MaskProblem` of the loop; the run's
:meth:`_Run.backward_loss` (the call every per-image step makes)
back-propagates the loss of the network's keep probabilities into the
network's parameters, so the objective is written once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from captum_fido._utils import validation as V
from captum_fido._utils.model_state import (
    check_autograd_usable,
    preserve_module_state,
)
from captum_fido._utils.scores import (
    check_model_output,
    check_output_type,
    log_odds,
    num_classes,
)
from captum_fido.attr._explainer_net import MaskExplainerNet, check_image_size
from captum_fido.attr._loop import _Run
from captum_fido.attr._masks import GridLayout, RelaxedBernoulliMask
from captum_fido.attr._options import FIDO_DEFAULTS, MaskOptions
from captum_fido.attr._problem import MaskProblem, with_reference_log_odds
from captum_fido.infillers import Infiller, as_infiller

__all__ = ["ExplainerTraining", "train_explainer"]

InfillerLike = Union[Infiller, Callable[..., Tensor]]
Data = Union[Tuple[Tensor, Tensor], Iterable[Tuple[Tensor, Tensor]]]


@dataclass
class ExplainerTraining:
    r"""What :func:`train_explainer` measured.

    Attributes:
        loss: Mean FIDO loss of each step's batch.
        log_odds: Mean target log-odds on the step's samples.
        keep: Mean expected keep fraction of each step's masks.
        seconds: Wall time of the training.
        classifier_rows: Rows the classifier saw (clean checks and samples).
    """

    loss: List[float] = field(default_factory=list)
    log_odds: List[float] = field(default_factory=list)
    keep: List[float] = field(default_factory=list)
    seconds: float = 0.0
    classifier_rows: int = 0


def _batches(
    data: Data, batch_size: int, generator: torch.Generator
) -> Iterable[Tuple[Tensor, Tensor]]:
    r"""``(images, labels)`` tensors become a seeded shuffling loader; any
    other iterable of ``(images, labels)`` batches is used as it is."""
    if isinstance(data, tuple) and all(isinstance(t, Tensor) for t in data):
        tensors: Tuple[Tensor, ...] = tuple(data)
        if len(tensors) != 2 or tensors[0].shape[0] != tensors[1].shape[0]:
            raise ValueError(
                "data must be (images, labels) with the same number of rows, got "
                f"{[tuple(t.shape) for t in tensors]}"
            )
        dataset = TensorDataset(*tensors)
        return DataLoader(
            dataset, batch_size=batch_size, shuffle=True, generator=generator
        )
    if isinstance(data, (Tensor, str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(
            "data must be a tuple (images, labels) of tensors or an iterable of "
            f"(images, labels) batches (a DataLoader), got {type(data).__name__}"
        )
    if isinstance(data, Iterator):
        # Training cycles through data epoch after epoch; an iterator (a
        # generator, map, zip, iter(...)) is spent after one pass, so the run
        # would stop part-way. Say so before any step.
        raise TypeError(
            f"data is a one-shot iterator ({type(data).__name__}): training "
            "cycles through data for options.n_steps steps, reading it again "
            "after each pass, and an iterator can be read only once. Give "
            "something that can be iterated again: (images, labels) tensors, "
            "a DataLoader, a list of (images, labels) batches (list(data)), or "
            "an object whose __iter__ returns a fresh iterator (a stream)"
        )
    return data  # type: ignore[return-value]


def _forever(batches: Iterable[Tuple[Tensor, Tensor]]) -> Iterator[Any]:
    r"""Epoch after epoch (a DataLoader reshuffles each time)."""
    passes = 0
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise ValueError(
                "data yielded no batches"
                if passes == 0
                else f"data yielded no batches when read again (pass {passes + 1}):"
                " training cycles through it for options.n_steps steps, so each"
                " iteration must yield the batches again (like a list or a"
                " DataLoader)"
            )
        passes += 1


def _check_training_options(options: MaskOptions) -> None:
    if not isinstance(options, MaskOptions):
        raise TypeError(f"options must be a MaskOptions, got {type(options).__name__}")
    # Per-call choices of per-image FIDO, meaningless for a data set: the
    # explainer decides the grid, trains for n_steps and returns soft maps.
    unset = ("lr", "seed", "mask_size", "feature_mask", "stop_tol", "avoid_regions")
    for name in unset:
        if getattr(options, name) is not None:
            raise ValueError(f"options.{name} must be None for training")
    for name in ("hard", "return_details", "show_progress"):
        if getattr(options, name):
            raise ValueError(f"options.{name} must be False for training")


def train_explainer(
    forward_func: Callable[..., Tensor],
    data: Data,
    infiller: InfillerLike,
    *,
    explainer: Optional[MaskExplainerNet] = None,
    objective: str = "ssr",
    options: MaskOptions = FIDO_DEFAULTS,
    batch_size: int = 32,
    lr: float = 2e-3,
    width: int = 16,
    output_type: str = "logits",
    seed: int = 0,
    show_progress: bool = True,
) -> Tuple[MaskExplainerNet, ExplainerTraining]:
    r"""Train a :class:`MaskExplainerNet` on FIDO's loss over a data set.

    Each step takes a batch of images with their target classes, runs the
    explainer, and minimises FIDO's per-image loss (:meth:`_Run.backward_loss`:
    relaxed Bernoulli samples, in-fill, the target's log-odds, L1 and TV with
    the loop's normalisation and warm-up) averaged over the batch. Only the
    explainer learns: the classifier is never modified (parameters,
    gradients, ``requires_grad``, mode and buffers are as before).

    Args:
        forward_func (Callable or nn.Module): The classifier to explain,
            returning ``(N, C)`` scores.
        data (tuple or iterable): ``(images, labels)`` tensors (shuffled in
            batches of ``batch_size``, seeded) or a re-iterable collection of
            ``(images, targets)`` batches such as a ``DataLoader`` or a list,
            cycled for ``options.n_steps`` steps (read again after each pass,
            so a one-shot iterator such as a generator is refused up front:
            wrap a stream in an object whose ``__iter__`` starts it anew).
            The targets are the classes the masks must keep (SSR) or remove
            (SDR), e.g. the true labels.
        infiller (Infiller or callable): What replaces dropped pixels.
        explainer (MaskExplainerNet, optional): A network to go on training;
            default a new one of ``width`` for the classifier's classes.
        objective (str, optional): ``"ssr"`` (default) or ``"sdr"``.
        options (MaskOptions, optional): FIDO's options for the loss:
            ``n_steps`` is the number of training steps (and sets the
            regularisers' warm-up), ``n_samples``, ``l1_coeff``, ``tv_coeff``,
            ``temperature``, ``temperature_final``, ``internal_batch_size``,
            ``autocast_dtype`` and ``channels_last`` apply as in
            :class:`~captum_fido.FIDO`; with the adaptive ``l1_coeff`` (the
            default) each batch also measures its images fully in-filled,
            for each image's weight (one more classifier row per image and
            step). The per-call choices of per-image
            FIDO must keep their defaults (``lr``, ``seed``, ``mask_size``,
            ``feature_mask``, ``stop_tol``, ``avoid_regions``: ``None``;
            ``hard``, ``return_details``, ``show_progress``: ``False``); this
            function's own ``lr``, ``seed`` and ``show_progress`` apply.
        batch_size (int, optional): Images per step when ``data`` is tensors.
        lr (float, optional): Adam learning rate of the explainer, decayed
            linearly to 0. Default 2e-3.
        width (int, optional): Width of a new explainer. Default 16.
        output_type (str, optional): ``"logits"``, ``"probs"`` or
            ``"log_probs"``.
        seed (int, optional): Seeds the initialisation, the batches and every
            step's mask samples. Default 0.
        show_progress (bool, optional): A tqdm bar. Default True.

    Returns:
        ``(explainer, history)``: the trained network (eval mode) and an
        :class:`ExplainerTraining`.

    Examples::

        >>> net, history = train_explainer(
        ...     model, (images, labels), BlurInfiller(sigma=3.0),
        ...     options=FIDO_DEFAULTS.replace(n_steps=500, l1_coeff=1e-4),
        ... )
        >>> maps = AmortisedFIDO(model, net, BlurInfiller(3.0)).attribute(
        ...     images[:8], target=labels[:8]
        ... )
    """
    V.check_callable(forward_func, "forward_func")
    if objective not in ("ssr", "sdr"):
        raise ValueError(f"objective must be 'ssr' or 'sdr', got {objective!r}")
    check_output_type(output_type)
    _check_training_options(options)
    V.check_positive_int(batch_size, "batch_size")
    V.check_positive(lr, "lr")
    check_autograd_usable("train_explainer", (), forward_func, explainer)
    fill = as_infiller(infiller)
    batches = _forever(_batches(data, batch_size, torch.Generator().manual_seed(seed)))
    history = ExplainerTraining()
    started = time.perf_counter()
    with torch.enable_grad(), preserve_module_state(forward_func):
        first = _training_batch(next(batches))
        net = _explainer(explainer, forward_func, first[0], output_type, objective)
        if net is None:
            net = _new_explainer(forward_func, first[0], output_type, width, seed)
        check_image_size(net, first[0], "data's images")
        net.objective, net.options = objective, options
        net.train()
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: max(0.0, 1.0 - t / options.n_steps)
        )
        bar = tqdm(range(options.n_steps), desc="explainer", disable=not show_progress)
        for step, batch in zip(bar, chain([first], map(_training_batch, batches))):
            check_image_size(net, batch[0], "data's images")
            args = (forward_func, fill, batch, step, seed, output_type, history)
            _train_step(net, optimizer, *args)
            schedule.step()
            bar.set_postfix(
                loss=f"{history.loss[-1]:.3f}", keep=f"{history.keep[-1]:.2f}"
            )
        bar.close()
    history.seconds = time.perf_counter() - started
    return net.eval(), history


def _training_batch(batch: Any) -> Tuple[Tensor, Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise TypeError(
            f"each batch of data must be (images, targets), got {type(batch).__name__}"
        )
    (x,) = V.check_inputs((batch[0],))
    y = V.check_targets(batch[1], x.shape[0], x.device)
    if y is None:
        raise ValueError("each batch of data needs targets (the classes to explain)")
    return x.detach(), y


def _classes(forward_func: Callable[..., Tensor], x: Tensor, output_type: str) -> int:
    r"""The classifier's number of classes (one clean pass, output checked)."""
    with torch.no_grad():
        out = check_model_output(forward_func(x), x.shape[0], output_type)
    return num_classes(out)


def _explainer(
    explainer: Optional[MaskExplainerNet],
    forward_func: Callable[..., Tensor],
    x: Tensor,
    output_type: str,
    objective: str,
) -> Optional[MaskExplainerNet]:
    r"""``explainer`` checked against the classifier's classes and the
    objective (``None`` stays ``None``: a new one is made)."""
    if explainer is None:
        return None
    if not isinstance(explainer, MaskExplainerNet):
        raise TypeError(
            f"explainer must be a MaskExplainerNet, got {type(explainer).__name__}"
        )
    n_classes = _classes(forward_func, x, output_type)
    if explainer.n_classes != n_classes or explainer.objective != objective:
        raise ValueError(
            f"explainer is for {explainer.n_classes} classes and "
            f"{explainer.objective!r}; the classifier has {n_classes} classes and "
            f"objective is {objective!r}"
        )
    return explainer


def _new_explainer(
    forward_func: Callable[..., Tensor],
    x: Tensor,
    output_type: str,
    width: int,
    seed: int,
) -> MaskExplainerNet:
    r"""A new explainer for the classifier's classes and ``x``'s channels,
    initialised from ``seed`` (the global random state is left as it was)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        n_classes = _classes(forward_func, x, output_type)
        return MaskExplainerNet(n_classes, x.shape[1], width).to(x.device)


def _train_step(
    net: MaskExplainerNet,
    optimizer: torch.optim.Optimizer,
    forward_func: Callable[..., Tensor],
    fill: Infiller,
    batch: Tuple[Tensor, Tensor],
    step: int,
    seed: int,
    output_type: str,
    history: ExplainerTraining,
) -> None:
    r"""One Adam step of the explainer on FIDO's loss, averaged over a batch
    (the batch is one :class:`MaskProblem`; its samples are seeded by
    ``seed + step``)."""
    x, y = batch
    V.check_targets_in_range(y, net.n_classes)
    options = net.options
    # The adaptive weight needs each image's fully in-filled log-odds too:
    # with_reference_log_odds measures both below, in one pass of 2N rows.
    adaptive = isinstance(options.l1_coeff, str)
    with torch.no_grad():
        clean = (
            x.new_zeros(x.shape[0])
            if adaptive
            else log_odds(forward_func(x), y, output_type)
        )
    optimizer.zero_grad(set_to_none=True)
    keep = torch.sigmoid(net(x, y))
    layout = GridLayout(
        (int(keep.shape[2]), int(keep.shape[3])), (int(x.shape[2]), int(x.shape[3]))
    )
    problem = MaskProblem(
        forward_func=forward_func,
        inputs=(x,),
        target=y,
        additional_forward_args=None,
        infiller=fill,
        output_type=output_type,
        objective=net.objective,
        layouts=(layout,),
        seed=seed + step,
        clean_log_odds=clean,
    )
    if adaptive:
        problem = with_reference_log_odds(problem)
    dist = RelaxedBernoulliMask(options.temperature, options.temperature_final)
    run = _Run(problem, dist, options)
    params: List[Tensor] = [p for p in net.parameters() if p.requires_grad]
    loss, scores = run.backward_loss([keep], step, params, 1.0 / x.shape[0])
    optimizer.step()
    history.loss.append(float(loss.mean()))
    history.log_odds.append(float(scores.mean()))
    history.keep.append(float(keep.detach().mean()))
    reference_rows = 2 if adaptive else 1
    history.classifier_rows += x.shape[0] * (reference_rows + options.n_samples)
