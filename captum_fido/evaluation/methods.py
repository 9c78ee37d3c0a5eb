r"""The methods a comparison runs, each behind one small interface.

A :class:`MethodSpec` turns ``(model, images, labels, seed)`` into
``(N, H, W)`` maps in ``[0, 1]`` (higher = more important). Captum's methods
give signed or unbounded attributions: their absolute values are averaged
over channels and each map is scaled by its maximum, as the FIDO paper does
before thresholding. FIDO and BBMP return probabilities already.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

from captum.attr import (
    Deconvolution,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)
from torch import Tensor, nn

from captum_fido.attr import BBMP, FIDO
from captum_fido.infillers import Infiller

__all__ = [
    "MethodSpec",
    "captum_methods",
    "mask_methods",
    "standard_methods",
    "select_methods",
    "BBMP_CA_TAUS",
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
        family: ``"captum"``, ``"fido-ssr"``, ``"fido-sdr"``, ``"bbmp"`` or
            ``"bbmp-ca"``.
        infiller: Name of the in-filler the method optimises with, if any.
        explain: ``explain(model, images, labels, seed) -> (N, H, W)`` maps
            in ``[0, 1]``.
        probabilistic: The maps are keep/drop probabilities, thresholded at
            0.5 for localisation (the paper's rule for FIDO); other maps get
            a threshold ``alpha * mean`` chosen on a held-out split.
        tau: BBMP-CA's threshold, if any.
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
    ``occlusion_window`` square patches at half-window strides)."""

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
    n_steps: int,
    l1_coeff: float,
    generative: Optional[str] = None,
    bbmp_infillers: Sequence[str] = ("Mean", "Blur", "Random"),
    taus: Sequence[float] = BBMP_CA_TAUS,
    n_samples: int = 8,
) -> List[MethodSpec]:
    r"""FIDO-SSR and FIDO-SDR with every in-filler, BBMP with the paper's
    heuristics, and BBMP-CA over ``taus`` with the ``generative`` in-filler.

    BBMP's sparsity weight is five times FIDO's, as its defaults are.
    """
    specs: List[MethodSpec] = []
    fido_options = {"n_steps": n_steps, "l1_coeff": l1_coeff, "n_samples": n_samples}
    bbmp_options = {"n_steps": n_steps, "l1_coeff": 5 * l1_coeff}
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
    n_steps: int,
    l1_coeff: float,
    generative: Optional[str],
    occlusion_window: int = 8,
    n_samples: int = 8,
) -> List[MethodSpec]:
    r"""The comparison of the FIDO paper: Captum's baselines, then
    :func:`mask_methods`."""
    return captum_methods(gradcam_layer, occlusion_window) + mask_methods(
        infillers, n_steps, l1_coeff, generative, n_samples=n_samples
    )


def select_methods(
    specs: Sequence[MethodSpec], wanted: Optional[Sequence[str]]
) -> List[MethodSpec]:
    r"""The specs named in ``wanted`` (exact names, or a family such as
    ``fido-ssr``), in the given order; all when ``wanted`` is ``None``.

    Raises:
        ValueError: for a name that matches no method, listing the known ones.
    """
    if wanted is None:
        return list(specs)
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
    so every method's cost is measured in classifier passes per image."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.rows = 0

    def forward(self, x: Tensor, *args: object) -> Tensor:
        self.rows += int(x.shape[0])
        return self.model(x, *args)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.model if isinstance(model, RowCounter) else model
