r"""Figures of saliency maps that can be read and compared.

Every map is drawn alone (no overlay, which would mix its colours with the
image's) with one colour map, :data:`MAP_CMAP`, on one scale, ``[0, 1]``,
with a colour bar, so no method looks stronger or weaker by styling alone.
:func:`plot_map_grid` draws a comparison's maps with one *row per method*
and one column per image (like the FIDO paper's Fig. 7 and 11, transposed so
that many methods stay readable), the images on top, the ground-truth box
on every cell, and the maps that explain nothing (empty or flooded, see
:func:`captum_fido.metrics.map_status`) marked as such.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from captum_fido._utils.files import save_figure_atomic
from captum_fido.evaluation.harness import preview_path
from captum_fido.metrics import map_status

__all__ = [
    "plot_map_grid",
    "draw_box",
    "show_map",
    "add_map_colour_bar",
    "MAP_CMAP",
]

#: The one colour map of every map figure (perceptually uniform, readable in
#: grey scale and by colour-blind readers).
MAP_CMAP = "viridis"

#: What the colour bar of a figure of ``[0, 1]`` maps says.
MAP_SCALE_LABEL = "importance (one scale for every method)"

#: How a comparison's maps come to ``[0, 1]`` (the grid's caption).
_GRID_CAPTION = (
    "Rows: methods; columns: test images (red: ground-truth box). One colour "
    "map and scale for every method: FIDO and BBMP maps are keep (SSR) or drop "
    "(SDR) probabilities; Captum's are absolute attributions scaled by their "
    "maximum. 'empty' / 'flooded': the map selects nothing / nearly everything."
)


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


def show_map(ax: Any, saliency: Tensor, mark_status: bool = True) -> Any:
    r"""Draw one ``(H, W)`` map with values in ``[0, 1]`` on ``ax`` with
    :data:`MAP_CMAP` on the fixed scale ``[0, 1]``; mark an empty or flooded
    map in its corner.

    Args:
        ax (matplotlib Axes): Where to draw.
        saliency (Tensor): ``(H, W)`` map, values in ``[0, 1]``.
        mark_status (bool, optional): Write "empty" or "flooded" on a map
            that :func:`~captum_fido.metrics.map_status` calls so. Default
            True.

    Returns:
        The ``AxesImage``, for :func:`add_map_colour_bar`.

    Raises:
        ValueError: ``saliency`` is not 2-D or has values outside ``[0, 1]``.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> image = show_map(ax, torch.zeros(16, 16))  # marked "empty"
        >>> add_map_colour_bar(fig, image, [ax])
    """
    if saliency.dim() != 2:
        raise ValueError(f"saliency must be (H, W), got {tuple(saliency.shape)}")
    values = saliency.detach().float().cpu()
    drawn = ax.imshow(values.numpy(), cmap=MAP_CMAP, vmin=0.0, vmax=1.0)
    if mark_status:
        status = map_status(values[None])[0]
        if status != "ok":
            ax.text(
                0.03,
                0.97,
                status,
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=7,
                color="white",
                bbox={"facecolor": "black", "alpha": 0.7, "pad": 1.5, "lw": 0},
            )
    ax.set_xticks([])
    ax.set_yticks([])
    return drawn


def add_map_colour_bar(
    fig: Any,
    mappable: Any,
    axes: Sequence[Any],
    label: str = MAP_SCALE_LABEL,
    shrink: float = 1.0,
) -> Any:
    r"""One colour bar for maps drawn with :func:`show_map`, beside ``axes``.

    Args:
        fig (matplotlib Figure): The figure.
        mappable: What :func:`show_map` returned (any of them: they share
            the colour map and scale).
        axes (sequence of Axes): The axes the bar stands beside.
        label (str, optional): The bar's label.
        shrink (float, optional): The bar's length as a share of the axes'
            height; a shorter bar stands at the top. Default 1.

    Returns:
        The ``Colorbar``.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> fig, axes = plt.subplots(1, 2)
        >>> image = show_map(axes[0], torch.rand(8, 8))
        >>> _ = show_map(axes[1], torch.rand(8, 8))
        >>> bar = add_map_colour_bar(fig, image, list(axes))
    """
    bar = fig.colorbar(
        mappable,
        ax=list(axes),
        fraction=0.05,
        pad=0.02,
        shrink=shrink,
        anchor=(0.0, 1.0),
        panchor=(1.0, 1.0),
    )
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return bar


def _row_label(ax: Any, text: str) -> None:
    ax.text(
        -0.06, 0.5, text, transform=ax.transAxes, ha="right", va="center", fontsize=9
    )


class _Grid:
    r"""The map grid's layout in inches, laid out by hand so that every cell
    keeps its size and the longest method name fits left of its row."""

    cell, gap, title_h, bar_w = 1.2, 0.08, 0.25, 1.0

    def __init__(self, rows: Sequence[str], n_images: int) -> None:
        self.label_w = 0.3 + 0.075 * max(len(m) for m in [*rows, "image"])
        self.grid_w = n_images * self.cell + (n_images - 1) * self.gap
        self.width = self.label_w + self.grid_w + self.bar_w
        self.caption = textwrap.fill(_GRID_CAPTION, max(40, int(self.width / 0.07)))
        self.caption_h = 0.2 + 0.14 * (self.caption.count("\n") + 1)
        n_rows = 1 + len(rows)
        self.height = (
            self.caption_h
            + self.title_h
            + n_rows * self.cell
            + (n_rows - 1) * self.gap
            + 0.1
        )

    def box(
        self, left: float, top: float, w: float, h: float
    ) -> Tuple[float, float, float, float]:
        r"""Figure-fraction ``(x, y, w, h)`` of a box given in inches from
        the top left corner."""
        width, height = self.width, self.height
        return (left / width, 1 - (top + h) / height, w / width, h / height)

    def cell_box(self, r: int, c: int) -> Tuple[float, float, float, float]:
        top = self.caption_h + self.title_h + r * (self.cell + self.gap)
        left = self.label_w + c * (self.cell + self.gap)
        return self.box(left, top, self.cell, self.cell)


def _draw_cells(
    fig: Any,
    layout: _Grid,
    images: Tensor,
    boxes: Tensor,
    image_ids: Sequence[int],
    rows: Sequence[str],
    preview_dir: Path,
    titles: Optional[Sequence[str]],
) -> List[Any]:
    r"""Each column: the image with its box, then each method's saved map
    (or "no map"); returns the drawn maps (for the colour bar)."""
    drawn: List[Any] = []
    for c, image_id in enumerate(image_ids):
        ax = fig.add_axes(layout.cell_box(0, c))
        ax.imshow(images[c].permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_xticks([])
        ax.set_yticks([])
        draw_box(ax, boxes[c].tolist())
        ax.set_title(
            titles[c] if titles is not None else f"image {int(image_id)}", fontsize=8
        )
        if c == 0:
            _row_label(ax, "image")
        for r, method in enumerate(rows, start=1):
            ax = fig.add_axes(layout.cell_box(r, c))
            path = preview_path(preview_dir, method, int(image_id))
            if path.is_file():
                drawn.append(show_map(ax, torch.load(path)))
                draw_box(ax, boxes[c].tolist(), colour="red")
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.text(0.5, 0.5, "no map", ha="center", va="center", fontsize=7)
            if c == 0:
                _row_label(ax, method)
    return drawn


def plot_map_grid(
    images: Tensor,
    boxes: Tensor,
    image_ids: Sequence[int],
    methods: Sequence[str],
    preview_dir: Path,
    out: Path,
    titles: Optional[Sequence[str]] = None,
    dpi: int = 100,
) -> Optional[Path]:
    r"""Draw the saved maps of ``methods`` on ``images``: one row per method,
    one column per image, the images on top, one colour map and scale with
    a colour bar; ``None`` when no map was saved for them.

    Every cell is about 1.2 inches square and names are in 8-9 pt type, so
    the figure is read at the size it is written (a tall page for many
    methods, never columns squeezed to fit). The file is written atomically.

    Args:
        images (Tensor): ``(N, 3, H, W)`` in ``[0, 1]``.
        boxes (Tensor): ``(N, 4)`` ground-truth boxes ``(x0, y0, x1, y1)``.
        image_ids (sequence of int): The images' ids in the comparison.
        methods (sequence of str): Rows, in order (those without any saved
            map are left out).
        preview_dir (Path): Where the comparison saved the maps.
        out (Path): The figure file (PNG or PDF).
        titles (sequence of str, optional): One per image (column); default
            ``"image <id>"``.
        dpi (int, optional): Resolution of a PNG. Default 100.

    Returns:
        Path or None: ``out``, or ``None`` when no map of ``methods`` was saved.

    Raises:
        ValueError: ``images``, ``boxes``, ``image_ids`` or ``titles``
            disagree in number.

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
    n = len(image_ids)
    if images.shape[0] != n or boxes.shape[0] != n:
        raise ValueError(
            f"images ({images.shape[0]}), boxes ({boxes.shape[0]}) and image_ids "
            f"({n}) must have one entry per image"
        )
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles must have {n} entries, got {len(titles)}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        m
        for m in methods
        if any(preview_path(preview_dir, m, int(i)).is_file() for i in image_ids)
    ]
    if not rows or n == 0:
        return None
    layout = _Grid(rows, n)
    fig = plt.figure(figsize=(layout.width, layout.height))
    drawn = _draw_cells(
        fig, layout, images, boxes, image_ids, rows, preview_dir, titles
    )
    # One bar for the whole grid, about four rows tall, at the top where the
    # eye starts (a bar the height of 30 rows would be read at one end).
    bar_rows = min(4, len(rows))
    cax = fig.add_axes(
        layout.box(
            layout.label_w + layout.grid_w + 0.15,
            layout.caption_h + layout.title_h + layout.cell + layout.gap,
            0.15,
            bar_rows * (layout.cell + layout.gap) - layout.gap,
        )
    )
    bar = fig.colorbar(drawn[0], cax=cax)
    bar.set_label(MAP_SCALE_LABEL if bar_rows > 2 else "importance", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    top = 1 - 0.1 / layout.height
    fig.text(0.5, top, layout.caption, ha="center", va="top", fontsize=8)
    out = Path(out)
    save_figure_atomic(fig, out, dpi=dpi, close=True)
    return out
