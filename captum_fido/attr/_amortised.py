r"""Amortised FIDO: a network trained once on FIDO's objective, one pass a map.

Per-image FIDO optimises a mask distribution for every image (hundreds of
classifier passes). Following Dabkowski & Gal (2017), :class:`MaskExplainerNet`
maps an image and a target class to the logits of FIDO's keep-mask
distribution on the coarse grid, and :func:`train_explainer` fits it on a data
set with FIDO's own loss: the same relaxed Bernoulli samples, in-fill,
log-odds, L1 and TV terms with the same normalisation. The loss is not
re-implemented here: each batch builds the loop's :class:`MaskProblem` and
:class:`_Run`, and the run's own :meth:`_Run.backward_loss` (the same call
every per-image step makes) back-propagates the loss of the network's keep
probabilities into the network's parameters.

:class:`AmortisedFIDO` is the Captum attribution: one explainer pass per map,
no classifier pass; optionally a few per-image FIDO steps started from the
amortised mask (``refine_steps``), through :class:`~captum_fido.FIDO` itself
with a warm-started :class:`RelaxedBernoulliMask`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from captum.attr import PerturbationAttribution
from captum.log import log_usage
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import (
    TargetType,
    TensorOrTupleOfTensorsGeneric,
    format_output,
    format_tensor_into_tuples,
    is_tuple,
)
from captum_fido._utils.futures import SynchronousFutureMixin
from captum_fido._utils.model_state import preserve_module_state
from captum_fido._utils.scores import (
    OUTPUT_TYPES,
    check_model_output,
    log_odds,
    num_classes,
)
from captum_fido.attr._fido import FIDO
from captum_fido.attr._loop import MaskProblem, _Run, with_reference_log_odds
from captum_fido.attr._masks import (
    GridLayout,
    MaskDistribution,
    RelaxedBernoulliMask,
    upsample,
)
from captum_fido.attr._options import FIDO_DEFAULTS, MaskOptions
from captum_fido.infillers import Infiller, as_infiller

__all__ = [
    "MaskExplainerNet",
    "AmortisedFIDO",
    "ExplainerTraining",
    "train_explainer",
    "WarmStartMask",
]

InfillerLike = Union[Infiller, Callable[..., Tensor]]
Data = Union[Tuple[Tensor, Tensor], Iterable[Tuple[Tensor, Tensor]]]

#: The objective options an explainer is trained with and refinement reuses.
OBJECTIVE_OPTIONS = ("n_samples", "l1_coeff", "tv_coeff", "temperature")


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    r"""3x3 conv, GroupNorm (batch-independent: a map never depends on the
    other images of a call), ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(min(8, c_out), c_out),
        nn.ReLU(inplace=True),
    )


class MaskExplainerNet(nn.Module):
    r"""A compact class-conditioned encoder-decoder: image and target class
    to the logits of FIDO's keep-mask distribution on its coarse grid.

    The encoder halves the resolution four times; the bottleneck sees a
    global summary of the image and is modulated by the target class (a
    learned scale and shift per channel, the class selector of Dabkowski &
    Gal), and the decoder returns to a quarter of each side, FIDO's default
    grid (``ceil(H / 4) x ceil(W / 4)``), with skip connections.

    Args:
        n_classes (int): Classes of the explained classifier.
        in_channels (int, optional): Image channels. Default 3.
        width (int, optional): Channels of the first block (later blocks
            use 2x and 4x). Default 16.
        objective (str, optional): ``"ssr"`` or ``"sdr"``, the objective
            the network is (to be) trained with. Default ``"ssr"``.
        options (MaskOptions, optional): The objective's options (sparsity,
            TV, temperature, samples) it is trained with; refinement reuses
            them. Default :data:`~captum_fido.attr.FIDO_DEFAULTS`.

    Examples::

        >>> net = MaskExplainerNet(n_classes=6)
        >>> net(torch.rand(2, 3, 64, 64), torch.tensor([0, 3])).shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 3,
        width: int = 16,
        objective: str = "ssr",
        options: MaskOptions = FIDO_DEFAULTS,
    ) -> None:
        super().__init__()
        self.n_classes = V.check_positive_int(n_classes, "n_classes")
        in_channels = V.check_positive_int(in_channels, "in_channels")
        w = V.check_positive_int(width, "width")
        if w not in (1, 2, 4) and w % 8:
            raise ValueError(
                "width must be 1, 2, 4 or a multiple of 8 (each block splits its "
                f"channels into min(8, channels) GroupNorm groups), got {w}"
            )
        if objective not in ("ssr", "sdr"):
            raise ValueError(f"objective must be 'ssr' or 'sdr', got {objective!r}")
        if not isinstance(options, MaskOptions):
            raise TypeError(
                f"options must be a MaskOptions, got {type(options).__name__}"
            )
        self.in_channels, self.width = in_channels, w
        self.objective, self.options = objective, options
        self.enc = nn.ModuleList(
            [
                nn.Sequential(_block(in_channels, w, 1), _block(w, w, 2)),  # 1/2
                _block(w, 2 * w, 2),  # 1/4: the mask grid
                _block(2 * w, 4 * w, 2),  # 1/8
                _block(4 * w, 4 * w, 2),  # 1/16
            ]
        )
        self.context = nn.Linear(4 * w, 4 * w)
        self.class_film = nn.Embedding(self.n_classes, 8 * w)
        nn.init.zeros_(self.class_film.weight)
        self.dec = nn.ModuleList([_block(8 * w, 4 * w, 1), _block(6 * w, 2 * w, 1)])
        self.head = nn.Conv2d(2 * w, 1, 1)
        # Logits 0 (keep probability 0.5) everywhere: FIDO's own start.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # type: ignore[arg-type]

    def values_per_group(self, height: int, width: int) -> int:
        r"""The fewest values any GroupNorm group of the network normalises
        per image for ``height x width`` inputs: with 1, that group's output
        no longer depends on the image (and PyTorch refuses a batch of one).

        Args:
            height (int): Image height.
            width (int): Image width.

        Returns:
            int: The smallest ``channels / groups * h * w`` over the layers.

        Examples::

            >>> MaskExplainerNet(n_classes=6, width=4).values_per_group(1, 1)
            1
        """
        h, w, fewest = int(height), int(width), None
        sizes = []
        for block in self.enc:
            for layer in block.modules():
                if isinstance(layer, nn.Conv2d):
                    # kernel 3, padding 1: the side becomes ceil(side / stride)
                    stride = int(layer.stride[0])
                    h, w = -(-h // stride), -(-w // stride)
                elif isinstance(layer, nn.GroupNorm):
                    v = layer.num_channels // layer.num_groups * h * w
                    fewest = v if fewest is None else min(fewest, v)
            sizes.append((h, w))
        for block, (sh, sw) in zip(self.dec, (sizes[2], sizes[1])):
            for layer in block.modules():
                if isinstance(layer, nn.GroupNorm):
                    v = layer.num_channels // layer.num_groups * sh * sw
                    fewest = v if fewest is None else min(fewest, v)
        return int(fewest or 0)

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        r"""Mask logits ``(N, 1, ceil(H / 4), ceil(W / 4))`` for images
        ``x`` ``(N, C, H, W)`` and classes ``target`` ``(N,)``."""
        skips = []
        h = x
        for block in self.enc:
            h = block(h)
            skips.append(h)
        # Which shape is the object depends on the whole image: add a global
        # summary before the class selects what to keep.
        h = h + self.context(h.mean(dim=(2, 3)))[:, :, None, None]
        scale, shift = self.class_film(target).chunk(2, dim=1)
        h = h * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        for block, skip in zip(self.dec, (skips[2], skips[1])):
            h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1))
        return self.head(h)


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
    if not callable(forward_func):
        raise TypeError(
            f"forward_func must be callable, got {type(forward_func).__name__}"
        )
    if objective not in ("ssr", "sdr"):
        raise ValueError(f"objective must be 'ssr' or 'sdr', got {objective!r}")
    if output_type not in OUTPUT_TYPES:
        raise ValueError(
            f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}"
        )
    _check_training_options(options)
    V.check_positive_int(batch_size, "batch_size")
    V.check_positive(lr, "lr")
    V.check_autograd_usable("train_explainer", (), forward_func, explainer)
    fill = as_infiller(infiller)
    batches = _forever(_batches(data, batch_size, torch.Generator().manual_seed(seed)))
    history = ExplainerTraining()
    started = time.perf_counter()
    with torch.enable_grad(), preserve_module_state(forward_func):
        first = _training_batch(next(batches))
        net = _explainer(explainer, forward_func, first[0], output_type, objective)
        if net is None:
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                net = MaskExplainerNet(
                    _classes(forward_func, first[0], output_type),
                    first[0].shape[1],
                    width,
                    objective,
                    options,
                ).to(first[0].device)
        _check_size(net, first[0], "data's images")
        net.options = options
        net.train()
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: max(0.0, 1.0 - t / options.n_steps)
        )
        bar = tqdm(range(options.n_steps), desc="explainer", disable=not show_progress)
        for step, batch in zip(bar, chain([first], map(_training_batch, batches))):
            _check_size(net, batch[0], "data's images")
            args = (forward_func, fill, batch, step, seed, output_type, history)
            _train_step(net, optimizer, *args)
            schedule.step()
            bar.set_postfix(
                loss=f"{history.loss[-1]:.3f}", keep=f"{history.keep[-1]:.2f}"
            )
        bar.close()
    history.seconds = time.perf_counter() - started
    return net.eval(), history


def _check_size(net: MaskExplainerNet, x: Tensor, name: str) -> None:
    r"""Refuse images too small for the explainer before it runs: a
    GroupNorm group of one value normalises to a constant."""
    h, w = int(x.shape[2]), int(x.shape[3])
    if net.values_per_group(h, w) > 1:
        return
    side = 1
    while net.values_per_group(side, side) <= 1:
        side *= 2
    raise ValueError(
        f"{name} of {h} x {w} pixels are too small for the explainer (width "
        f"{net.width}): one of its GroupNorm layers would normalise groups of a "
        f"single value, whose output no longer depends on the image; give "
        f"images of at least {side} x {side} pixels (or an explainer of width 16)"
    )


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
        forward_func,
        (x,),
        y,
        None,
        fill,
        output_type,
        net.objective,
        (layout,),
        seed + step,
        clean,
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


class WarmStartMask(RelaxedBernoulliMask):
    r"""FIDO's relaxed Bernoulli keep-mask, started from given logits
    (the amortised mask) instead of 0.

    Args:
        logits (Tensor): ``(N, 1, h, w)`` initial logits on the grid.
        temperature (float, optional): Concrete temperature. Default 0.1.
        temperature_final (float, optional): The temperature at the last
            step (annealed as :class:`RelaxedBernoulliMask` does). Default
            ``None``: constant.
    """

    name = "FIDO (warm start)"

    def __init__(
        self,
        logits: Tensor,
        temperature: float = 0.1,
        temperature_final: Optional[float] = None,
    ) -> None:
        super().__init__(temperature, temperature_final)
        self.logits = logits.detach()

    def init_params(self, n: int, grid: Tuple[int, ...], like: Tensor) -> Tensor:
        if tuple(self.logits.shape) != (n, 1, *grid):
            raise ValueError(
                f"warm-start logits have shape {tuple(self.logits.shape)}, the "
                f"run needs {(n, 1, *grid)}"
            )
        return self.logits.to(device=like.device, dtype=like.dtype).clone()


class _WarmStartFIDO(FIDO):
    r"""Per-image FIDO whose mask parameters start at given logits."""

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: Infiller,
        objective: str,
        output_type: str,
        logits: Tensor,
    ) -> None:
        super().__init__(forward_func, infiller, objective, output_type)
        self.logits = logits

    def mask_distribution(self, options: MaskOptions) -> MaskDistribution:
        return WarmStartMask(
            self.logits, options.temperature, options.temperature_final
        )


class AmortisedFIDO(SynchronousFutureMixin, PerturbationAttribution):
    r"""FIDO maps from a trained explainer network: one explainer pass per
    map and no classifier pass; optionally refined per image by a few FIDO
    steps started from the amortised mask.

    The explainer (:class:`MaskExplainerNet`, trained by
    :func:`train_explainer` for *this* classifier, objective and in-filler)
    gives the keep-mask logits on FIDO's grid; the map is the expected mask
    upsampled to the image, as :class:`~captum_fido.FIDO` returns it. The
    amortised map does not look at the classifier, so it only explains the
    classifier the explainer was trained on (a model-randomisation check
    leaves it unchanged); refinement does use the classifier.

    Args:
        forward_func (Callable or nn.Module): The classifier the explainer
            was trained for (used by refinement only; never modified).
        explainer (MaskExplainerNet): The trained network; its objective and
            objective options are used for refinement.
        infiller (Infiller or callable): The in-filler of refinement (the
            one the explainer was trained with).
        output_type (str, optional): What ``forward_func`` returns:
            ``"logits"`` (default), ``"probs"`` or ``"log_probs"``.

    Examples::

        >>> from captum_fido.demo.pretrained import load_explainer
        >>> explainer = load_explainer()
        >>> amortised = AmortisedFIDO(model, explainer, BlurInfiller(2.86))
        >>> maps = amortised.attribute(images, target=labels)
        >>> refined = amortised.attribute(images, target=labels, refine_steps=8)
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        explainer: MaskExplainerNet,
        infiller: InfillerLike,
        output_type: str = "logits",
    ) -> None:
        if not callable(forward_func):
            raise TypeError(
                f"forward_func must be callable, got {type(forward_func).__name__}"
            )
        if not isinstance(explainer, MaskExplainerNet):
            raise TypeError(
                f"explainer must be a MaskExplainerNet, got {type(explainer).__name__}"
            )
        if output_type not in OUTPUT_TYPES:
            raise ValueError(
                f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}"
            )
        PerturbationAttribution.__init__(self, forward_func)
        self.explainer = explainer
        self.infiller = as_infiller(infiller)
        self.output_type = output_type

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    @log_usage()
    def attribute(  # type: ignore[override]
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        refine_steps: int = 0,
        **refine_options: Any,
    ) -> TensorOrTupleOfTensorsGeneric:
        r"""The amortised FIDO maps, optionally refined per image.

        Args:
            inputs (Tensor or 1-tuple of Tensor): Images ``(N, C, H, W)`` in
                the classifier's input space.
            target (int, list, or Tensor): The class to explain: one int, or
                ``N`` of them. Required (the explainer is class-conditioned).
            additional_forward_args (Any, optional): Extra classifier
                arguments (refinement only).
            refine_steps (int, optional): FIDO steps per image started from
                the amortised mask; 0 (default) returns the amortised map
                (no classifier pass).
            **refine_options: Options of :meth:`captum_fido.FIDO.attribute`
                for the refinement (``seed``, ``lr``, ``n_samples``,
                ``show_progress``, ...). By default the objective options
                are those the explainer was trained with, and the
                regularisers are at full weight from the first step
                (``reg_warmup_steps=0``: the amortised mask is already
                past the warm-up). ``mask_size`` is the explainer's grid.

        Returns:
            *Tensor* or *1-tuple of Tensor* of **attributions**, the inputs'
            shape, values in ``[0, 1]``, equal across channels (SSR: keep
            probability, SDR: drop probability; higher = more important).

        Raises:
            TypeError, ValueError: for malformed inputs, targets or options,
                before any explainer or classifier pass.

        Examples::

            >>> maps = AmortisedFIDO(model, net, fill).attribute(x, target=y)
            >>> refined = AmortisedFIDO(model, net, fill).attribute(
            ...     x, target=y, refine_steps=8, seed=0
            ... )
        """
        x, targets = self._check(inputs, target, refine_steps, refine_options)
        with torch.no_grad():
            logits = self.explainer(x, targets)
        if refine_steps == 0:
            keep = torch.sigmoid(logits)
            keep = upsample(keep, (int(x.shape[2]), int(x.shape[3])))
            importance = keep if self.explainer.objective == "ssr" else 1.0 - keep
            maps = importance.clamp(0, 1).expand_as(x).to(x.dtype).contiguous()
        else:
            maps = self._refine(
                x,
                targets,
                additional_forward_args,
                logits,
                refine_steps,
                refine_options,
            )
        return format_output(is_tuple(inputs), (maps,))

    def _check(
        self, inputs: Any, target: Any, refine_steps: Any, refine_options: Any
    ) -> Tuple[Tensor, Tensor]:
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                "inputs must be a tensor or a 1-tuple of tensors, "
                f"got {type(inputs).__name__}"
            )
        inputs_tuple = V.check_inputs(format_tensor_into_tuples(inputs))
        if len(inputs_tuple) != 1:
            raise ValueError(
                f"inputs must be one image tensor; got a tuple of {len(inputs_tuple)}"
            )
        x = inputs_tuple[0]
        if x.shape[1] != self.explainer.in_channels:
            raise ValueError(
                f"inputs must have {self.explainer.in_channels} channels (the "
                f"explainer's), got {x.shape[1]}"
            )
        _check_size(self.explainer, x, "inputs")
        if refine_steps:
            V.check_autograd_usable(
                "AmortisedFIDO.attribute with refine_steps", x, self.forward_func
            )
        targets = V.check_targets(target, x.shape[0], x.device)
        if targets is None:
            raise ValueError(
                "target is required: the explainer is class-conditioned; give "
                "an int, a list of ints or a tensor of N class indices"
            )
        V.check_targets_in_range(targets, self.explainer.n_classes)
        V.check_nonnegative_int(refine_steps, "refine_steps")
        for name in ("mask_size", "feature_mask", "n_steps"):
            if name in refine_options:
                raise ValueError(
                    f"{name} is set by the amortised explainer (refine_steps for "
                    "n_steps); it cannot be given"
                )
        if refine_options and refine_steps == 0:
            raise ValueError(
                f"refinement options {sorted(refine_options)} need refine_steps >= 1"
            )
        return x.detach(), targets

    def _refine(
        self,
        x: Tensor,
        targets: Tensor,
        additional_forward_args: Any,
        logits: Tensor,
        refine_steps: int,
        refine_options: Any,
    ) -> Tensor:
        r"""Per-image FIDO from the amortised logits, through FIDO itself."""
        trained = self.explainer.options
        options = {name: getattr(trained, name) for name in OBJECTIVE_OPTIONS}
        options.update(reg_warmup_steps=0, mask_size=tuple(logits.shape[-2:]))
        options.update(refine_options)
        fido = _WarmStartFIDO(
            self.forward_func,
            self.infiller,
            self.explainer.objective,
            self.output_type,
            logits,
        )
        return fido.attribute(  # type: ignore[call-overload]
            x,
            target=targets,
            additional_forward_args=additional_forward_args,
            n_steps=refine_steps,
            **options,
        )
