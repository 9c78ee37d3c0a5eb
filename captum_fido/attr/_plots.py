r"""Figures for several explanations and for a map's uncertainty (matplotlib).

Both take one image of a batch (``index``) and return the figure; with
``path`` they also save it. Images are drawn as RGB (or grey for one
channel) clipped to ``[0, 1]``; maps with a fixed ``[0, 1]`` scale so
figures compare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from captum_fido._utils.files import save_figure_atomic
from captum_fido.attr._alternatives import Explanation
from captum_fido.attr._uncertainty import MapUncertainty

__all__ = ["plot_explanations", "plot_uncertainty"]

PathLike = Union[str, Path]


def plot_explanations(
    inputs: Tensor,
    explanations: Sequence[Explanation],
    index: int = 0,
    path: Optional[PathLike] = None,
) -> Any:
    r"""The image, then each explanation's map (top) and one of its in-filled
    counterfactuals (bottom), titled with its class score.

    Args:
        inputs (Tensor): The ``(N, C, H, W)`` images that were explained.
        explanations (sequence of Explanation): From
            :func:`~captum_fido.attr.alternative_explanations` (one input).
        index (int, optional): Which image of the batch. Default 0.
        path (str or Path, optional): Where to save the figure.

    Returns:
        matplotlib.figure.Figure

    Examples::

        >>> found = alternative_explanations(fido, x, target=1, k=2, seed=0)
        >>> plot_explanations(x, found, path="alternatives.png")
    """
    import matplotlib.pyplot as plt

    if len(explanations) == 0:
        raise ValueError("explanations must hold at least one Explanation")
    k = len(explanations)
    fig, axes = plt.subplots(2, k + 1, figsize=(2.6 * (k + 1), 5.4), squeeze=False)
    clean = torch.sigmoid(explanations[0].details.clean_log_odds[index])
    _image(axes[0, 0], inputs[index], f"input, p = {float(clean):.2f}")
    axes[1, 0].axis("off")
    for i, e in enumerate(explanations, start=1):
        attribution = e.attribution
        if not isinstance(attribution, Tensor):
            raise TypeError("plot_explanations draws single-input explanations")
        p = float(e.class_probs[index])
        _map(axes[0, i], attribution[index, 0], f"explanation {i}: p = {p:.2f}")
        cf = e.counterfactuals[0][index, 0]
        cf_p = float(e.details.counterfactual_probs[index, 0])
        _image(axes[1, i], cf, f"in-filled sample, p = {cf_p:.2f}")
    objective = explanations[0].details.objective.upper()
    fig.suptitle(f"{k} {objective} explanations (p: target probability)")
    return _finish(fig, path)


def plot_uncertainty(
    inputs: Tensor,
    uncertainty: MapUncertainty,
    index: int = 0,
    path: Optional[PathLike] = None,
) -> Any:
    r"""The image, the mean map, its spread over seeds and its spread under
    the learned distribution, side by side.

    Args:
        inputs (Tensor): The ``(N, C, H, W)`` images that were explained.
        uncertainty (MapUncertainty): From
            :func:`~captum_fido.attr.map_uncertainty`.
        index (int, optional): Which image of the batch. Default 0.
        path (str or Path, optional): Where to save the figure.

    Returns:
        matplotlib.figure.Figure

    Examples::

        >>> plot_uncertainty(x, map_uncertainty(fido, x, target=1), path="u.png")
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(11.5, 3.0))
    n_seeds = len(uncertainty.seeds)
    _image(axes[0], inputs[index], "input")
    _map(axes[1], uncertainty.mean[index, 0], f"map, mean of {n_seeds} seeds")
    _map(axes[2], uncertainty.seed_std[index, 0], "std over seeds", vmax=0.5)
    _map(axes[3], uncertainty.sample_std[index, 0], "std over samples", vmax=0.5)
    return _finish(fig, path)


def _image(ax: Any, image: Tensor, title: str) -> None:
    hwc = image.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()
    ax.imshow(hwc[..., 0] if hwc.shape[-1] == 1 else hwc, cmap="gray")
    _frame(ax, title)


def _map(ax: Any, values: Tensor, title: str, vmax: float = 1.0) -> None:
    shown = ax.imshow(
        np.asarray(values.detach().float().cpu()), cmap="viridis", vmin=0, vmax=vmax
    )
    ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    _frame(ax, title)


def _frame(ax: Any, title: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _finish(fig: Any, path: Optional[PathLike]) -> Any:
    fig.tight_layout()
    if path is not None:
        save_figure_atomic(fig, path, dpi=90)
    return fig
