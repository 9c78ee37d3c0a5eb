r"""Figures of latent counterfactual paths, laid out like the paper's figures.

One row per (image, target): the query, the images along the optimisation
path with the target's confidence under each, the difference image
``input - counterfactual`` and the most-changed latent dimensions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import numpy as np
from torch import Tensor

from captum_fido._utils.files import save_figure_atomic
from captum_fido.counterfactual import CounterfactualResult

__all__ = ["plot_paths"]


def _to_image(x: Tensor) -> np.ndarray:
    r"""``(C, H, W)`` to what ``imshow`` draws: ``(H, W)`` or ``(H, W, 3)``."""
    x = x.detach().float().cpu()
    if x.shape[0] == 1:
        return x[0].numpy()
    return x.permute(1, 2, 0).clamp(0, 1).numpy()


def _format_confidence(p: float) -> str:
    r"""Two decimals, except near 1 where prototypes differ: ``1-3e-06``."""
    if 0.995 <= p < 1.0:
        return f"1-{1.0 - p:.0e}"
    return f"{p:.2f}"


def plot_paths(
    result: CounterfactualResult,
    inputs: Tensor,
    rows: Optional[Sequence[int]] = None,
    row_titles: Optional[Sequence[str]] = None,
    out: Union[str, Path, None] = None,
    title: Optional[str] = None,
    n_top_dims: int = 3,
    cell_inches: float = 0.95,
):
    r"""Draw optimisation paths of a :class:`CounterfactualResult`.

    Args:
        result (CounterfactualResult): From
            :meth:`LatentCounterfactual.explain` on a single tensor input.
        inputs (Tensor): The query images given to ``explain``, ``(N, C, H,
            W)`` with 1 or 3 channels in ``[0, 1]``.
        rows (Sequence[int], optional): Which rows of the result to draw, in
            order. Default: all.
        row_titles (Sequence[str], optional): A label per drawn row (e.g.
            ``"9 -> 4"``). Default: ``"c -> c'"`` from the result.
        out (str or Path, optional): Where to save the figure (folders are
            created). Default: not saved.
        title (str, optional): The figure's title.
        n_top_dims (int, optional): Most-changed latent dimensions listed at
            the end of each row. Default: 3.
        cell_inches (float, optional): Size of one image cell.

    Returns:
        matplotlib.figure.Figure: the figure (closed when saved).

    Examples::

        >>> import torch
        >>> from captum_fido.counterfactual import LatentCounterfactual
        >>> from captum_fido.demo.digits import load_digit_data, load_pretrained
        >>> models = load_pretrained()
        >>> images = load_digit_data().test_images[:2]
        >>> method = LatentCounterfactual(
        ...     models.classifier, models.vae.decoder, models.vae.encoder
        ... )
        >>> result = method.explain(images, target=torch.tensor([4, 7]), n_steps=50)
        >>> fig = plot_paths(result, images, out="outputs/paths.png")
    """
    import matplotlib

    if out is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if not isinstance(result.path, Tensor):
        raise TypeError("plot_paths draws results of a single tensor input")
    rows = list(range(inputs.shape[0])) if rows is None else list(rows)
    if row_titles is not None and len(row_titles) != len(rows):
        raise ValueError(
            f"row_titles has {len(row_titles)} entries for {len(rows)} rows"
        )
    n_path = result.path.shape[1]
    n_cols = n_path + 3  # input, path..., difference, latent text
    height = cell_inches * 1.25 * len(rows) + 0.7
    fig, axes = plt.subplots(
        len(rows),
        n_cols,
        figsize=(cell_inches * (n_cols + 1.6), height),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.0] * (n_cols - 1) + [1.6]},
    )
    diff = result.difference
    assert isinstance(diff, Tensor)
    scale = float(diff[rows].abs().max().clamp_min(1e-6))
    for r, i in enumerate(rows):
        label = row_titles[r] if row_titles is not None else None
        _draw_row(axes[r], result, inputs, i, label, scale, n_top_dims)
    _column_titles(axes[0], result.path_steps.tolist())
    top = 1.0
    if title:
        fig.suptitle(title, fontsize=9)
        top = 1.0 - 0.35 / height  # keep the column titles clear of it
    fig.tight_layout(pad=0.3, h_pad=0.2, w_pad=0.2, rect=(0.0, 0.0, 1.0, top))
    if out is not None:
        save_figure_atomic(fig, out, dpi=90, close=True)
    return fig


def _draw_row(
    ax: Any,
    result: CounterfactualResult,
    inputs: Tensor,
    i: int,
    label: Optional[str],
    scale: float,
    n_top_dims: int,
) -> None:
    r"""One row: the query, the path, the difference and the latent changes."""
    path = result.path
    diff = result.difference
    assert isinstance(path, Tensor) and isinstance(diff, Tensor)
    n_path = path.shape[1]
    gray = "gray" if inputs.shape[1] == 1 else None
    ax[0].imshow(_to_image(inputs[i]), cmap=gray, vmin=0, vmax=1)
    label = f"-> {int(result.target[i])}" if label is None else label
    ax[0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    ax[0].set_xlabel(
        f"p={_format_confidence(float(result.original_confidence[i]))}",
        fontsize=7,
        labelpad=1,
    )
    for k in range(n_path):
        a = ax[1 + k]
        a.imshow(_to_image(path[i, k]), cmap=gray, vmin=0, vmax=1)
        conf = float(result.path_confidence[i, k])
        a.set_xlabel(_format_confidence(conf), fontsize=7, labelpad=1)
        if k == n_path - 1:
            color = "tab:green" if bool(result.success[i]) else "tab:red"
            for spine in a.spines.values():
                spine.set_edgecolor(color)
                spine.set_linewidth(2)
    ax[n_path + 1].imshow(
        diff[i].sum(0).cpu().numpy(), cmap="bwr", vmin=-scale, vmax=scale
    )
    ax[n_path + 1].set_xlabel(
        f"L1={float(result.l1_change[i]):.1f}", fontsize=7, labelpad=1
    )
    k = min(n_top_dims, result.top_latent_dims.shape[1])
    text = "\n".join(
        f"z{int(result.top_latent_dims[i, j])}: "
        f"{float(result.top_latent_changes[i, j]):+.2f}"
        for j in range(k)
    )
    ax[n_path + 2].text(0.0, 0.5, text, fontsize=7, va="center", family="monospace")
    ax[n_path + 2].axis("off")
    for a in ax[: n_path + 2]:
        a.set_xticks([])
        a.set_yticks([])


def _column_titles(ax: Any, steps: List[int]) -> None:
    n_path = len(steps)
    ax[0].set_title("input", fontsize=8)
    for k in range(n_path):
        ax[1 + k].set_title(f"step {steps[k]}", fontsize=7)
    ax[n_path + 1].set_title("input - cf", fontsize=8)
    ax[n_path + 2].set_title("top latent dims", fontsize=8, loc="left")
