r"""FIDO next to Captum's baselines on demo scenes: the work of ``captum-fido
demo`` (:mod:`captum_fido.cli.demo` parses its options and prints).

:func:`explain_scenes` explains a few held-out test scenes with

- FIDO-SSR using the shipped GAN inpainter (the paper's FIDO-CA),
- Captum's ``Saliency`` (absolute gradient), ``LayerGradCam`` on the
  classifier's last conv block (upsampled with
  ``LayerAttribution.interpolate``) and ``Deconvolution``,

and :func:`plot` draws one figure: per scene the image with its
ground-truth box, each method's map (box overlaid), and FIDO's counterfactual
samples with the classifier's confidence in the class. :func:`box_mass` is
the share of each map's mass inside the ground-truth box.

Examples::

    >>> from captum_fido.demo.showcase import box_mass, explain_scenes, plot
    >>> result = explain_scenes(n_images=2, n_steps=50)  # doctest: +SKIP
    >>> plot(result, Path("outputs/demo.png"))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import torch
from torch import Tensor

from captum_fido._utils.files import save_figure_atomic
from captum_fido.attr import MaskOptimizationDetails

__all__ = ["DemoResult", "explain_scenes", "box_mass", "plot"]


def _normalise_map(a: Tensor) -> Tensor:
    r"""``(N, C, H, W)`` attributions -> ``(N, H, W)`` in ``[0, 1]`` per image."""
    m = a.detach().abs().sum(1) if a.shape[1] > 1 else a.detach()[:, 0].clamp_min(0)
    flat = m.flatten(1)
    lo = flat.min(1).values[:, None, None]
    hi = flat.max(1).values[:, None, None]
    return (m - lo) / (hi - lo).clamp_min(1e-12)


@dataclass
class DemoResult:
    r"""What :func:`explain_scenes` computed.

    Attributes:
        images, labels, boxes: The test scenes, their classes and
            ground-truth boxes ``(x0, y0, x1, y1)``.
        maps: Method name -> ``(N, H, W)`` maps in ``[0, 1]``.
        details: FIDO's :class:`~captum_fido.MaskOptimizationDetails`.
        probs: Classifier confidence in the true class on the clean images.
        seconds: FIDO's wall time.

    Examples::

        >>> result = explain_scenes(n_images=1, n_steps=5)
        >>> result.maps["GradCAM"].shape
        torch.Size([1, 64, 64])
    """

    images: Tensor
    labels: Tensor
    boxes: Tensor
    maps: Dict[str, Tensor]
    details: MaskOptimizationDetails
    probs: Tensor
    seconds: float


def explain_scenes(
    n_images: int = 4,
    n_steps: Optional[int] = None,
    seed: int = 0,
    n_samples: Optional[int] = None,
    offset: int = 0,
    l1_coeff: Optional[float] = None,
) -> DemoResult:
    r"""Run every method on the first ``n_images`` test scenes.

    FIDO runs with its defaults unless told otherwise: its budget and its
    adaptive sparsity weight, which follows the demo classifier's small
    log-odds (a few units) without a hand-chosen ``l1_coeff``.

    Args:
        n_images (int, optional): How many test scenes. Default 4.
        n_steps (int, optional): FIDO's optimisation steps. Default: FIDO's.
        seed (int, optional): FIDO's seed. Default 0.
        n_samples (int, optional): FIDO's mask samples per image per step.
            Default: FIDO's.
        offset (int, optional): Index of the first test scene. Default 0.
        l1_coeff (float, optional): A fixed sparsity weight instead of the
            adaptive one. Default ``None``: FIDO's (adaptive).

    Returns:
        :class:`DemoResult`, with maps ``"Saliency"``, ``"GradCAM"``,
        ``"Deconvolution"`` and ``"FIDO-SSR (inpainter)"``.

    Examples::

        >>> result = explain_scenes(n_images=2, n_steps=50)
        >>> sorted(result.maps)
        ['Deconvolution', 'FIDO-SSR (inpainter)', 'GradCAM', 'Saliency']
        >>> result.maps["GradCAM"].shape
        torch.Size([2, 64, 64])
    """
    from captum.attr import Deconvolution, LayerAttribution, LayerGradCam, Saliency

    from captum_fido import FIDO
    from captum_fido.demo.pretrained import load_classifier, load_inpainter_infiller
    from captum_fido.demo.scenes import load_split

    model = load_classifier()
    infiller = load_inpainter_infiller()
    images, labels, _, _, boxes = load_split(
        "test", n_images, offset=offset, with_details=True
    )
    with torch.no_grad():
        probs = model(images).softmax(1).gather(1, labels[:, None])[:, 0]
    maps: Dict[str, Tensor] = {}
    maps["Saliency"] = _normalise_map(Saliency(model).attribute(images, target=labels))
    gc = LayerGradCam(model, model.last_conv).attribute(images, target=labels)
    gc = LayerAttribution.interpolate(gc, tuple(images.shape[2:]), "bilinear")
    maps["GradCAM"] = _normalise_map(gc.clamp_min(0))
    maps["Deconvolution"] = _normalise_map(
        Deconvolution(model).attribute(images, target=labels)
    )
    t0 = time.time()
    fido = FIDO(model, infiller, objective="ssr")
    attr, details = fido.attribute(
        images,
        target=labels,
        n_steps=n_steps,
        n_samples=n_samples,
        seed=seed,
        return_details=True,
        n_counterfactuals=3,
        l1_coeff=l1_coeff,  # None: FIDO's default
        show_progress=True,
    )
    seconds = time.time() - t0
    maps["FIDO-SSR (inpainter)"] = attr[:, 0].detach()
    return DemoResult(images, labels, boxes, maps, details, probs, seconds)


def box_mass(maps: Tensor, boxes: Tensor) -> Tensor:
    r"""Share of each ``(H, W)`` map's mass inside its ``(x0, y0, x1, y1)`` box.

    Args:
        maps (Tensor): ``(N, H, W)`` non-negative maps.
        boxes (Tensor): ``(N, 4)`` integer boxes ``(x0, y0, x1, y1)``.

    Returns:
        ``(N,)`` tensor of shares in ``[0, 1]`` (0 for an all-zero map).

    Examples::

        >>> m = torch.zeros(1, 8, 8)
        >>> m[0, 2:4, 2:4] = 1.0
        >>> box_mass(m, torch.tensor([[2, 2, 4, 4]]))
        tensor([1.])
    """
    out = []
    for m, (x0, y0, x1, y1) in zip(maps, boxes.tolist()):
        total = float(m.sum())
        out.append(float(m[y0:y1, x0:x1].sum()) / total if total > 0 else 0.0)
    return torch.tensor(out)


def plot(result: DemoResult, out: Path) -> Path:
    r"""Write the figure of :func:`explain_scenes`'s result to ``out``.

    Every method's map is drawn alone with one colour map on one scale,
    ``[0, 1]``, and one colour bar
    (:func:`~captum_fido.evaluation.figure.show_map`), so no method looks
    stronger by styling alone.

    Args:
        result (DemoResult): What :func:`explain_scenes` returned.
        out (Path): The figure file; its suffix names the format.

    Returns:
        ``out``, written atomically.

    Examples::

        >>> plot(explain_scenes(n_images=1, n_steps=5), Path("/tmp/demo.png"))
        PosixPath('/tmp/demo.png')
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from captum_fido.demo.scenes import CLASSES
    from captum_fido.evaluation.figure import add_map_colour_bar, draw_box, show_map

    images, labels, boxes = result.images, result.labels, result.boxes
    maps, details, probs = result.maps, result.details, result.probs
    cfs = details.counterfactuals[0]
    cf_probs = details.counterfactual_probs
    k = cfs.shape[1]
    n = images.shape[0]
    cols = 1 + len(maps) + k
    fig, axes = plt.subplots(
        n,
        cols,
        figsize=(1.9 * cols + 1.0, 2.0 * n + 0.6),
        squeeze=False,
        layout="constrained",
    )
    drawn = None
    for i in range(n):
        img = images[i].permute(1, 2, 0).numpy()
        box = boxes[i].tolist()
        ax = axes[i, 0]
        ax.imshow(img)
        draw_box(ax, box, "lime", width=1.2)
        ax.set_title(f"{CLASSES[int(labels[i])]} p={float(probs[i]):.2f}", fontsize=8)
        for j, (name, m) in enumerate(maps.items()):
            ax = axes[i, 1 + j]
            drawn = show_map(ax, m[i])
            draw_box(ax, box, "red", width=1.2)
            if i == 0:
                ax.set_title(name, fontsize=8)
        for s in range(k):
            ax = axes[i, 1 + len(maps) + s]
            ax.imshow(cfs[i, s].permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_title(
                f"counterfactual {s + 1}\np={float(cf_probs[i, s]):.2f}", fontsize=7
            )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if drawn is not None:
        add_map_colour_bar(fig, drawn, list(axes.flat), shrink=min(1.0, 2.0 / n))
    fig.suptitle(
        "FIDO-SSR with the trained inpainter vs Captum baselines: one colour "
        "scale for every map (FIDO: keep probability; Captum: scaled to [0, 1] "
        "per image). Green/red box: ground truth.",
        fontsize=9,
    )
    save_figure_atomic(fig, out, dpi=110, close=True)
    return out
