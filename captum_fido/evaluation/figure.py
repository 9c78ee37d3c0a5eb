r"""A grid of maps like the FIDO paper's Fig. 7 and 11: one row per image,
the image then every method's map, ground-truth box drawn on each."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from torch import Tensor

from captum_fido.evaluation.harness import preview_path

__all__ = ["plot_map_grid", "draw_box"]


def draw_box(
    ax: Any, box: Sequence[float], colour: str = "lime", width: float = 0.8
) -> None:
    r"""Outline the pixel box ``(x0, y0, x1, y1)`` (``x1``/``y1`` exclusive)
    on a matplotlib axis showing the image.

    Args:
        ax (matplotlib Axes): The axis showing the image.
        box (sequence of float): ``(x0, y0, x1, y1)`` in pixels.
        colour (str, optional): Edge colour. Default ``"lime"``.
        width (float, optional): Line width. Default 0.8.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> _ = ax.imshow(torch.rand(16, 16))
        >>> draw_box(ax, [2, 3, 10, 12])
    """
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = box
    ax.add_patch(
        Rectangle(
            (x0 - 0.5, y0 - 0.5),
            x1 - x0,
            y1 - y0,
            fill=False,
            edgecolor=colour,
            linewidth=width,
        )
    )


def plot_map_grid(
    images: Tensor,
    boxes: Tensor,
    image_ids: Sequence[int],
    methods: Sequence[str],
    preview_dir: Path,
    out: Path,
    titles: Optional[Sequence[str]] = None,
) -> Optional[Path]:
    r"""Draw the saved maps of ``methods`` on ``images``; ``None`` when no
    map was saved for them.

    Args:
        images (Tensor): ``(N, 3, H, W)`` in ``[0, 1]``.
        boxes (Tensor): ``(N, 4)`` ground-truth boxes ``(x0, y0, x1, y1)``.
        image_ids (sequence of int): The images' ids in the comparison.
        methods (sequence of str): Columns, in order.
        preview_dir (Path): Where the comparison saved the maps.
        out (Path): The figure file (PNG or PDF).
        titles (sequence of str, optional): One per image row.

    Returns:
        Path or None: ``out``, or ``None`` when no map of ``methods`` was saved.

    Examples::

        >>> from pathlib import Path
        >>> rows = run_comparison(model, data, specs, fills, Path("out/rows.csv"),
        ...                       preview_dir=Path("out/preview"))
        >>> sub = data.subset([0, 1])  # images whose maps were saved (low ids)
        >>> plot_map_grid(sub.images, sub.boxes, sub.image_ids,
        ...               [s.name for s in specs], Path("out/preview"),
        ...               Path("out/maps.png"))
        PosixPath('out/maps.png')
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [
        m
        for m in methods
        if any(preview_path(preview_dir, m, i).is_file() for i in image_ids)
    ]
    if not columns or len(image_ids) == 0:
        return None
    n, cols = len(image_ids), 1 + len(columns)
    fig, axes = plt.subplots(n, cols, figsize=(1.25 * cols, 1.35 * n), squeeze=False)
    for r, image_id in enumerate(image_ids):
        img = images[r].permute(1, 2, 0).clamp(0, 1).numpy()
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.imshow(img)
                if titles is not None:
                    ax.set_title(titles[r], fontsize=6)
            else:
                path = preview_path(preview_dir, columns[c - 1], int(image_id))
                ax.imshow(img.mean(2), cmap="gray")
                if path.is_file():
                    ax.imshow(
                        torch.load(path).numpy(), cmap="jet", alpha=0.6, vmin=0, vmax=1
                    )
                if r == 0:
                    ax.set_title(columns[c - 1], fontsize=5)
            draw_box(ax, boxes[r].tolist())
    fig.tight_layout(pad=0.2)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
