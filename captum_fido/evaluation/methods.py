r"""The methods a comparison runs, each behind one small interface.

A :class:`MethodSpec` turns ``(model, images, labels, seed)`` into
``(N, H, W)`` maps in ``[0, 1]`` (higher = more important). Captum's methods
give signed or unbounded attributions: their absolute values are averaged
over channels and each map is scaled by its maximum, as the FIDO paper does
before thresholding. FIDO and BBMP return probabilities already.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import torch
from captum.attr import (
    Deconvolution,
    FeatureAblation,
    IntegratedGradients,
    KernelShap,
    LayerAttribution,
    LayerGradCam,
    Lime,
    Occlusion,
    Saliency,
    ShapleyValueSampling,
)
from torch import Tensor, nn

from captum_fido._utils import validation as V
from captum_fido.attr import (
    BBMP,
    BBMP_L1_RATIO,
    FIDO,
    AmortisedFIDO,
    InfillBaseline,
    MaskExplainerNet,
    interpretable_similarity,
)
from captum_fido.infillers import Infiller

__all__ = [
    "MethodSpec",
    "captum_methods",
    "mask_methods",
    "amortised_methods",
    "perturbation_methods",
    "patch_mask",
    "standard_methods",
    "select_methods",
    "BBMP_CA_TAUS",
    "OPT_IN_FAMILIES",
    "PERTURBATION_METHODS",
    "RowCounter",
]

#: The thresholds of the paper's BBMP-CA sweep (Table 2, Fig. 18).
BBMP_CA_TAUS = (1.0, 0.7, 0.5, 0.3, 0.1, 0.0)

Explain = Callable[[nn.Module, Tensor, Tensor, int], Tensor]


@dataclass(frozen=True)
class MethodSpec:
    r"""One method of a comparison.

    Attributes:
        name: Row name in the tables, e.g. ``"FIDO-SSR (inpainter)"``.
        family: ``"captum"``, ``"captum-perturbation"``, ``"fido-ssr"``,
            ``"fido-sdr"``, ``"bbmp"`` or ``"bbmp-ca"``.
        infiller: Name of the in-filler the method optimises with, if any.
        explain: ``explain(model, images, labels, seed) -> (N, H, W)`` maps
            in ``[0, 1]``.
        probabilistic: The maps are keep/drop probabilities, thresholded at
            0.5 for localisation (the paper's rule for FIDO); other maps get
            a threshold ``alpha * mean`` chosen on a held-out split.
        tau: BBMP-CA's threshold, if any.

    Examples::

        >>> spec = captum_methods(lambda m: m.layer4)[0]
        >>> spec.name, spec.family, spec.probabilistic
        ('Saliency', 'captum', False)
        >>> maps = spec.explain(model, x, y, 0)  # (N, H, W) in [0, 1]
        >>> def centre(model, x, y, seed):  # a map that ignores the model
        ...     maps = torch.zeros(x.shape[0], *x.shape[2:])
        ...     maps[:, 16:48, 16:48] = 1.0
        ...     return maps
        >>> custom = MethodSpec("Centre", "captum", None, centre, probabilistic=False)
    """

    name: str
    family: str
    infiller: Optional[str]
    explain: Explain
    probabilistic: bool
    tau: Optional[float] = None


def _scaled(attr: Tensor) -> Tensor:
    r"""``(N, C, H, W)`` attributions -> ``(N, H, W)`` in ``[0, 1]``."""
    maps = attr.detach().abs().mean(dim=1)
    top = maps.flatten(1).amax(dim=1).clamp_min(1e-12)
    return (maps / top[:, None, None]).float()


def captum_methods(
    gradcam_layer: Callable[[nn.Module], nn.Module],
    occlusion_window: int = 8,
    ig_steps: int = 32,
) -> List[MethodSpec]:
    r"""Captum's Saliency, IntegratedGradients (zero baseline), LayerGradCam
    (upsampled, positive part), Deconvolution and Occlusion (zero baseline,
    ``occlusion_window`` square patches at half-window strides).

    Args:
        gradcam_layer (callable): ``model -> layer``: the layer of GradCAM,
            picked from the classifier itself (not from the
            :class:`RowCounter` around it).
        occlusion_window (int, optional): Side of Occlusion's square
            patches; the stride is half of it. Default 8.
        ig_steps (int, optional): IntegratedGradients' ``n_steps``.
            Default 32.

    Returns:
        list of MethodSpec: Five specs, family ``"captum"``, whose maps are
        not probabilities.

    Examples::

        >>> specs = captum_methods(lambda model: model.layer4)
        >>> [s.name for s in specs]
        ['Saliency', 'IntegratedGradients', 'GradCAM', 'Deconvolution', 'Occlusion']
    """

    def saliency(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        return _scaled(Saliency(model).attribute(x, target=y))

    def integrated(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        ig = IntegratedGradients(model)
        return _scaled(ig.attribute(x, target=y, n_steps=ig_steps))

    def gradcam(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        layer = gradcam_layer(_unwrap(model))
        cam = LayerGradCam(model, layer).attribute(x, target=y)
        cam = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")
        return _scaled(cam.clamp_min(0))

    def deconvolution(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        return _scaled(Deconvolution(model).attribute(x, target=y))

    def occlusion(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        w, s = occlusion_window, max(1, occlusion_window // 2)
        attr = Occlusion(model).attribute(
            x, target=y, sliding_window_shapes=(x.shape[1], w, w), strides=(1, s, s)
        )
        return _scaled(attr)

    table = (
        ("Saliency", saliency),
        ("IntegratedGradients", integrated),
        ("GradCAM", gradcam),
        ("Deconvolution", deconvolution),
        ("Occlusion", occlusion),
    )
    return [MethodSpec(name, "captum", None, fn, False) for name, fn in table]


def patch_mask(height: int, width: int, patch: int) -> Tensor:
    r"""Captum ``feature_mask`` of ``patch`` x ``patch`` squares, row-major
    ids, shape ``(1, 1, height, width)`` (edge patches may be smaller).

    Args:
        height (int): Image height in pixels.
        width (int): Image width in pixels.
        patch (int): Side of the squares in pixels.

    Returns:
        Tensor: ``(1, 1, height, width)`` integer ids, from 0.

    Examples::

        >>> patch_mask(4, 4, 2)[0, 0]
        tensor([[0, 0, 1, 1],
                [0, 0, 1, 1],
                [2, 2, 3, 3],
                [2, 2, 3, 3]])
    """
    for name, value in (("height", height), ("width", width), ("patch", patch)):
        V.check_positive_int(value, name)
    per_row = -(-width // patch)
    rows = torch.arange(height).div(patch, rounding_mode="floor")
    cols = torch.arange(width).div(patch, rounding_mode="floor")
    return (rows[:, None] * per_row + cols[None, :])[None, None]


#: Captum's perturbation methods, in the order of the comparison's rows.
PERTURBATION_METHODS = (
    "FeatureAblation",
    "Occlusion",
    "ShapleyValueSampling",
    "KernelShap",
    "Lime",
)


def _perturbation_explain(
    method: str, fill: Optional[Infiller], settings: Mapping[str, Any]
) -> Explain:
    r"""``explain`` for one Captum perturbation method and one baseline
    (``fill=None``: Captum's zero baseline; else in-filled by ``fill``)."""
    cls: Any = {
        "FeatureAblation": FeatureAblation,
        "Occlusion": Occlusion,
        "ShapleyValueSampling": ShapleyValueSampling,
        "KernelShap": KernelShap,
        "Lime": Lime,
    }[method]
    # The sampling methods draw from torch's global generator: each image is
    # explained alone under a forked, seeded generator, so a map depends only
    # on its image and the seed (not on chunking) and the caller's stream is
    # untouched. FeatureAblation and Occlusion are deterministic: one batch.
    one_at_a_time = method in ("ShapleyValueSampling", "KernelShap", "Lime")

    def attribute(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        kwargs = dict(settings)
        if method == "Occlusion":
            kwargs["sliding_window_shapes"] = (x.shape[1], *kwargs.pop("window"))
        else:
            kwargs["feature_mask"] = patch_mask(
                x.shape[2], x.shape[3], kwargs.pop("patch")
            ).to(x.device)
        devices = [x.device] if x.is_cuda else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            if fill is not None:
                ib = InfillBaseline(model, fill, seed=seed)
                return ib.attribute(cls, x, target=y, **kwargs)
            if cls is Lime:
                # The same similarity as the in-fill variants (Captum's
                # default compares inputs): only the baseline differs.
                explainer = Lime(model, similarity_func=interpretable_similarity)
            else:
                explainer = cls(model)
            return explainer.attribute(x, baselines=0.0, target=y, **kwargs)

    def explain(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        if not one_at_a_time:
            return _scaled(attribute(model, x, y, seed))
        parts = [
            attribute(model, x[i : i + 1], y[i : i + 1], seed)
            for i in range(x.shape[0])
        ]
        return _scaled(torch.cat(parts))

    return explain


def perturbation_methods(
    infillers: Mapping[str, Infiller],
    patch: int = 8,
    occlusion_window: int = 12,
    occlusion_stride: int = 6,
    n_samples: int = 128,
    n_permutations: int = 2,
    perturbations_per_eval: int = 16,
) -> List[MethodSpec]:
    r"""Captum's FeatureAblation, Occlusion, ShapleyValueSampling, KernelShap
    and Lime, each with its usual zero baseline and with every in-filler of
    ``infillers`` through :class:`~captum_fido.attr.InfillBaseline`.

    All variants of a method see the same features: ``patch`` x ``patch``
    squares (:func:`patch_mask`), or Occlusion's sliding window; only the
    baseline differs (Lime uses
    :func:`~captum_fido.attr.interpretable_similarity` with every baseline).
    Rows are named ``"<method> (zero)"`` and ``"<method> (<key>)"``, family
    ``"captum-perturbation"``. Maps are scaled as Captum's other methods'.

    Args:
        infillers (mapping): baseline name (e.g. ``"inpainter"``, ``"local"``)
            -> in-filler.
        patch (int, optional): Side of the square features. Default 8.
        occlusion_window (int, optional): Occlusion's window side. Default 12.
        occlusion_stride (int, optional): Occlusion's stride. Default 6.
        n_samples (int, optional): KernelShap's and Lime's coalitions per
            image. Default 128.
        n_permutations (int, optional): ShapleyValueSampling's ``n_samples``
            (feature permutations). Default 2.
        perturbations_per_eval (int, optional): Perturbations per forward
            batch (one in-fill call each). Default 16.

    Returns:
        list of MethodSpec: ``5 * (1 + len(infillers))`` specs, method-major.

    Examples::

        >>> specs = perturbation_methods({"local": LocalInfiller()})
        >>> [s.name for s in specs[:2]]
        ['FeatureAblation (zero)', 'FeatureAblation (local)']
    """
    for name, value in (
        ("patch", patch),
        ("occlusion_window", occlusion_window),
        ("occlusion_stride", occlusion_stride),
        ("n_samples", n_samples),
        ("n_permutations", n_permutations),
        ("perturbations_per_eval", perturbations_per_eval),
    ):
        V.check_positive_int(value, name)
    if "zero" in infillers:
        raise ValueError("infillers: the key 'zero' names Captum's own baseline")
    batch = {"perturbations_per_eval": perturbations_per_eval}
    settings: Dict[str, Dict[str, Any]] = {
        "FeatureAblation": {"patch": patch, **batch},
        "Occlusion": {
            "window": (occlusion_window, occlusion_window),
            "strides": (1, occlusion_stride, occlusion_stride),
            **batch,
        },
        "ShapleyValueSampling": {"patch": patch, "n_samples": n_permutations, **batch},
        "KernelShap": {"patch": patch, "n_samples": n_samples, **batch},
        "Lime": {"patch": patch, "n_samples": n_samples, **batch},
    }
    baselines: Dict[str, Optional[Infiller]] = {"zero": None, **infillers}
    return [
        MethodSpec(
            f"{method} ({key})",
            "captum-perturbation",
            None if fill is None else key,
            _perturbation_explain(method, fill, settings[method]),
            False,
        )
        for method in PERTURBATION_METHODS
        for key, fill in baselines.items()
    ]


Build = Callable[[nn.Module], Union[FIDO, BBMP]]


def _fido(fill: Infiller, objective: str) -> Build:
    def build(model: nn.Module) -> Union[FIDO, BBMP]:
        return FIDO(model, fill, objective=objective)

    return build


def _bbmp(fill: Infiller) -> Build:
    def build(model: nn.Module) -> Union[FIDO, BBMP]:
        return BBMP(model, fill)

    return build


def _mask_method(
    name: str,
    family: str,
    infiller_name: str,
    build: Build,
    options: Mapping[str, object],
    tau: Optional[float] = None,
) -> MethodSpec:
    def explain(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        attr = build(model).attribute(x, target=y, seed=seed, **options)  # type: ignore[call-overload]
        return attr[:, 0].detach().float()

    return MethodSpec(name, family, infiller_name, explain, True, tau)


def mask_methods(
    infillers: Mapping[str, Infiller],
    n_steps: Optional[int] = None,
    l1_coeff: Optional[float] = None,
    generative: Optional[str] = None,
    bbmp_infillers: Sequence[str] = ("Mean", "Blur", "Random"),
    taus: Sequence[float] = BBMP_CA_TAUS,
    n_samples: Optional[int] = None,
) -> List[MethodSpec]:
    r"""FIDO-SSR and FIDO-SDR with every in-filler, BBMP with the paper's
    heuristics, and BBMP-CA over ``taus`` with the ``generative`` in-filler.

    Options given as ``None`` (the default) are the methods' own defaults:
    their budgets and the adaptive sparsity weight. A fixed ``l1_coeff`` is
    FIDO's; BBMP's is :data:`~captum_fido.attr.BBMP_L1_RATIO` (5) times it, as
    in the paper.

    Args:
        infillers (mapping): name -> in-filler; FIDO-SSR and FIDO-SDR run
            with each.
        n_steps (int, optional): Optimisation steps of every method.
            Default: each method's own.
        l1_coeff (float, optional): A fixed FIDO sparsity weight (BBMP's is
            ``BBMP_L1_RATIO * l1_coeff``). Default: the adaptive weight.
        generative (str, optional): The key in ``infillers`` of BBMP-CA's
            in-filler; ``None`` (default) leaves BBMP-CA out.
        bbmp_infillers (sequence of str, optional): The keys in ``infillers``
            BBMP runs with. Default ``("Mean", "Blur", "Random")``.
        taus (sequence of float, optional): BBMP-CA's thresholds. Default
            :data:`BBMP_CA_TAUS`.
        n_samples (int, optional): FIDO's mask samples per image per step.
            Default: FIDO's.

    Returns:
        list of MethodSpec: ``"FIDO-SSR (<name>)"`` and ``"FIDO-SDR (<name>)"``
        for every in-filler, ``"BBMP (<name>)"`` for every ``bbmp_infillers``
        key, then ``"BBMP-CA tau=<tau>"`` for every tau; all probabilistic.

    Examples::

        >>> from captum_fido.infillers import BlurInfiller, MeanInfiller, RandomInfiller
        >>> fills = {"Mean": MeanInfiller(), "Blur": BlurInfiller(),
        ...          "Random": RandomInfiller()}
        >>> specs = mask_methods(fills, n_steps=300, l1_coeff=1e-3)
        >>> len(specs), specs[0].name, specs[-1].name
        (9, 'FIDO-SSR (Mean)', 'BBMP (Random)')
    """
    specs: List[MethodSpec] = []
    given = {"n_steps": n_steps, "l1_coeff": l1_coeff, "n_samples": n_samples}
    fido_options = {k: v for k, v in given.items() if v is not None}
    bbmp_options = {k: v for k, v in fido_options.items() if k != "n_samples"}
    if l1_coeff is not None:
        bbmp_options["l1_coeff"] = BBMP_L1_RATIO * l1_coeff
    for objective in ("ssr", "sdr"):
        for name, fill in infillers.items():
            specs.append(
                _mask_method(
                    f"FIDO-{objective.upper()} ({name})",
                    f"fido-{objective}",
                    name,
                    _fido(fill, objective),
                    fido_options,
                )
            )
    for name in bbmp_infillers:
        fill = infillers[name]
        specs.append(
            _mask_method(
                f"BBMP ({name})",
                "bbmp",
                name,
                _bbmp(fill),
                bbmp_options,
            )
        )
    if generative is not None:
        fill = infillers[generative]
        for tau in taus:
            specs.append(
                _mask_method(
                    f"BBMP-CA tau={tau:g}",
                    "bbmp-ca",
                    generative,
                    _bbmp(fill),
                    {**bbmp_options, "tau": tau},
                    tau,
                )
            )
    return specs


def standard_methods(
    gradcam_layer: Callable[[nn.Module], nn.Module],
    infillers: Mapping[str, Infiller],
    n_steps: Optional[int] = None,
    l1_coeff: Optional[float] = None,
    generative: Optional[str] = None,
    occlusion_window: int = 8,
    n_samples: Optional[int] = None,
    local: Optional[str] = "Local",
) -> List[MethodSpec]:
    r"""The comparison of the FIDO paper: Captum's baselines, then
    :func:`mask_methods`; then, opt-in (:data:`OPT_IN_FAMILIES`, left out by
    ``select_methods(specs, None)``), :func:`perturbation_methods` with the
    ``generative`` and ``local`` in-fillers (keys lower-cased) when both are
    in ``infillers``.

    Args:
        gradcam_layer (callable): ``model -> layer`` of GradCAM (see
            :func:`captum_methods`).
        infillers (mapping): name -> in-filler (see :func:`mask_methods`).
        n_steps (int, optional): Optimisation steps of FIDO and BBMP.
            Default: each method's own.
        l1_coeff (float, optional): A fixed FIDO sparsity weight. Default:
            the adaptive weight.
        generative (str, optional): The key in ``infillers`` of the
            generative in-filler (BBMP-CA and the perturbation methods);
            ``None`` (default) leaves both out.
        occlusion_window (int, optional): Occlusion's patch side. Default 8.
        n_samples (int, optional): FIDO's mask samples per image per step.
            Default: FIDO's.
        local (str, optional): The key in ``infillers`` of the local
            in-filler of the perturbation methods. Default ``"Local"``.

    Returns:
        list of MethodSpec: Captum's methods, then those of
        :func:`mask_methods`, then the opt-in perturbation methods.

    Examples::

        >>> from captum_fido.demo.infillers import demo_infillers
        >>> specs = standard_methods(lambda m: m.last_conv, demo_infillers(),
        ...                          generative="Inpainter")
        >>> default = select_methods(specs, None)  # the opt-in families left out
    """
    specs = captum_methods(gradcam_layer, occlusion_window) + mask_methods(
        infillers, n_steps, l1_coeff, generative, n_samples=n_samples
    )
    if generative is not None and local is not None:
        names = [n for n in (generative, local) if n in infillers]
        if len(names) == 2:
            specs += perturbation_methods({n.lower(): infillers[n] for n in names})
    return specs


#: Families run only when asked for by name (slow: thousands of passes).
OPT_IN_FAMILIES = ("captum-perturbation",)


def select_methods(
    specs: Sequence[MethodSpec], wanted: Optional[Sequence[str]]
) -> List[MethodSpec]:
    r"""The specs named in ``wanted`` (exact names, or a family such as
    ``fido-ssr``), in the given order; when ``wanted`` is ``None``, all but
    the :data:`OPT_IN_FAMILIES` (``captum-perturbation``).

    Args:
        specs (sequence of MethodSpec): The candidates.
        wanted (sequence of str or None): Method names or families, in any
            case (e.g. ``"saliency"``, ``"fido-ssr"``); ``None`` for all but
            the opt-in families.

    Returns:
        list of MethodSpec: The chosen specs in the order of ``wanted`` (a
        family's in the order of ``specs``), each once.

    Raises:
        ValueError: for a name that matches no method, listing the known ones.

    Examples::

        >>> specs = captum_methods(lambda m: m.layer4)
        >>> [s.name for s in select_methods(specs, ["gradcam", "Saliency"])]
        ['GradCAM', 'Saliency']
        >>> len(select_methods(specs, ["captum"]))
        5
    """
    if wanted is None:
        return [s for s in specs if s.family not in OPT_IN_FAMILIES]
    by_key: Dict[str, List[MethodSpec]] = {}
    for spec in specs:
        by_key.setdefault(spec.name.lower(), []).append(spec)
        by_key.setdefault(spec.family, []).append(spec)
    chosen: List[MethodSpec] = []
    for key in wanted:
        matches = by_key.get(key.strip().lower())
        if not matches:
            known = ", ".join(
                sorted({s.family for s in specs} | {s.name for s in specs})
            )
            raise ValueError(f"methods: unknown method {key!r}; known: {known}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


class RowCounter(nn.Module):
    r"""A transparent wrapper counting the rows (images) the classifier sees,
    so every method's cost is measured in classifier passes per image.

    The count is the ``rows`` attribute; set it to 0 to start again.

    Args:
        model (nn.Module): The classifier; its forward receives the same
            arguments.

    Examples::

        >>> counter = RowCounter(model)
        >>> _ = counter(torch.rand(4, 3, 64, 64))
        >>> counter.rows
        4
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.rows = 0

    def forward(self, x: Tensor, *args: object) -> Tensor:
        self.rows += int(x.shape[0])
        return self.model(x, *args)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.model if isinstance(model, RowCounter) else model


def amortised_methods(
    explainer: MaskExplainerNet,
    infiller: Infiller,
    infiller_name: str,
    refine_options: Mapping[str, Any],
) -> List[MethodSpec]:
    r"""Amortised FIDO (:class:`~captum_fido.attr.AmortisedFIDO`: one
    explainer pass, no classifier pass) and the same refined per image with
    ``refine_options`` (``refine_steps``, ``n_samples``, ...). Opt-in: not
    part of :func:`standard_methods` (the explainer is trained for one
    classifier); family ``fido-amortised`` (maps are probabilities).

    Args:
        explainer (MaskExplainerNet): The trained explainer of the compared
            classifier.
        infiller (Infiller): The in-filler of
            :class:`~captum_fido.attr.AmortisedFIDO` (and of the refinement).
        infiller_name (str): Its name in the rows.
        refine_options (mapping): ``refine_steps`` (int >= 1, required) and
            any other refinement options of
            :meth:`~captum_fido.attr.AmortisedFIDO.attribute` (``n_samples``,
            ``lr``, ...); the seed is the comparison's.

    Returns:
        list of MethodSpec: ``"Amortised FIDO-<OBJ> (<infiller_name>)"`` and
        the same with ``" + <refine_steps> steps"``.

    Raises:
        ValueError: when ``refine_options`` lacks an int ``refine_steps >= 1``.

    Examples::

        >>> from captum_fido.infillers import BlurInfiller
        >>> specs = amortised_methods(explainer, BlurInfiller(), "Blur",
        ...                           {"refine_steps": 20, "n_samples": 4})
        >>> [s.name for s in specs]
        ['Amortised FIDO-SSR (Blur)', 'Amortised FIDO-SSR (Blur) + 20 steps']
    """
    refine = dict(refine_options)
    steps = refine.pop("refine_steps", 0)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            f"refine_options['refine_steps'] must be an int >= 1, got {steps!r}"
        )

    def build(refine_steps: int, options: Mapping[str, Any]) -> Explain:
        def explain(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
            method = AmortisedFIDO(model, explainer, infiller)
            extra = {"seed": seed, **options} if refine_steps else {}
            attr = method.attribute(x, target=y, refine_steps=refine_steps, **extra)
            return attr[:, 0].detach().float()

        return explain

    name = f"Amortised FIDO-{explainer.objective.upper()} ({infiller_name})"
    return [
        MethodSpec(name, "fido-amortised", infiller_name, build(0, {}), True),
        MethodSpec(
            f"{name} + {steps} steps",
            "fido-amortised",
            infiller_name,
            build(steps, refine),
            True,
        ),
    ]
