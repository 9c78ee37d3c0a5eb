r"""Captum's methods in a comparison: its gradient and occlusion baselines
(:func:`captum_methods`) and its perturbation methods with a zero or an
in-filled baseline (:func:`perturbation_methods`). Their signed or unbounded
attributions become maps in ``[0, 1]`` as the FIDO paper does before
thresholding (:func:`~._spec.scaled`)."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional

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
from captum_fido.attr import InfillBaseline, interpretable_similarity
from captum_fido.evaluation._spec import Explain, MethodSpec, scaled, unwrap
from captum_fido.infillers import Infiller

__all__ = [
    "captum_methods",
    "patch_mask",
    "PERTURBATION_METHODS",
    "perturbation_methods",
]


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
        return scaled(Saliency(model).attribute(x, target=y))

    def integrated(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        ig = IntegratedGradients(model)
        return scaled(ig.attribute(x, target=y, n_steps=ig_steps))

    def gradcam(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        layer = gradcam_layer(unwrap(model))
        cam = LayerGradCam(model, layer).attribute(x, target=y)
        cam = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")
        return scaled(cam.clamp_min(0))

    def deconvolution(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        return scaled(Deconvolution(model).attribute(x, target=y))

    def occlusion(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        w, s = occlusion_window, max(1, occlusion_window // 2)
        attr = Occlusion(model).attribute(
            x, target=y, sliding_window_shapes=(x.shape[1], w, w), strides=(1, s, s)
        )
        return scaled(attr)

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
            return scaled(attribute(model, x, y, seed))
        parts = [
            attribute(model, x[i : i + 1], y[i : i + 1], seed)
            for i in range(x.shape[0])
        ]
        return scaled(torch.cat(parts))

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
