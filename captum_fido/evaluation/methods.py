r"""The methods a comparison runs, each behind one small interface.

A :class:`MethodSpec` turns ``(model, images, labels, seed)`` into
``(N, H, W)`` maps in ``[0, 1]`` (higher = more important). Captum's methods
give signed or unbounded attributions: their absolute values are averaged
over channels and each map is scaled by its maximum, as the FIDO paper does
before thresholding. FIDO and BBMP return probabilities already.

The interface and the row counter are in ``_spec``, Captum's methods in
``_captum_methods``; this module gathers every method (FIDO, BBMP, BBMP-CA,
amortised FIDO here) and keeps all their names importable from here.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from torch import Tensor, nn

from captum_fido.attr import (
    BBMP,
    BBMP_L1_RATIO,
    FIDO,
    AmortisedFIDO,
    MaskExplainerNet,
)
from captum_fido.evaluation._captum_methods import (
    PERTURBATION_METHODS,
    captum_methods,
    patch_mask,
    perturbation_methods,
)
from captum_fido.evaluation._spec import Explain, MethodSpec, RowCounter
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
    preset: Optional[str] = None,
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
        preset (str, optional): Every method's ``preset``: ``"adaptive"``
            (the defaults) or ``"paper"`` (the appendix's settings exactly;
            options given above still override it). Default: the methods'
            own (``"adaptive"``).

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
    given = {
        "preset": preset,
        "n_steps": n_steps,
        "l1_coeff": l1_coeff,
        "n_samples": n_samples,
    }
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
    preset: Optional[str] = None,
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
        preset (str, optional): FIDO's and BBMP's ``preset`` (see
            :func:`mask_methods`). Default: their own.

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
        infillers, n_steps, l1_coeff, generative, n_samples=n_samples, preset=preset
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
