r"""One figure per input: the image, its map, and counterfactual in-fills."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional, Sequence

from torch import Tensor

from captum_fido.explain._store import atomic_write

__all__ = ["write_figure"]


def write_figure(
    path: Path,
    image: Tensor,
    saliency: Tensor,
    title: str,
    method: str,
    counterfactuals: Optional[Tensor] = None,
    probabilities: Sequence[float] = (),
) -> None:
    r"""Draw ``image`` (``(C, H, W)`` in ``[0, 1]``), ``saliency`` (``(H,
    W)`` in ``[0, 1]``) over a grey copy, and the ``counterfactuals``
    (``(K, C, H, W)``) with the classifier's probability on each; write the
    PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = 0 if counterfactuals is None else int(counterfactuals.shape[0])
    fig, axes = plt.subplots(
        1, 2 + k, figsize=(2.6 * (2 + k), 3.0), squeeze=False, layout="constrained"
    )
    rgb = _rgb(image)
    axes[0, 0].imshow(rgb)
    axes[0, 0].set_title(title, fontsize=8)
    axes[0, 1].imshow(rgb.mean(2), cmap="gray")
    shown = axes[0, 1].imshow(saliency.numpy(), cmap="jet", alpha=0.55, vmin=0, vmax=1)
    axes[0, 1].set_title(method, fontsize=8)
    fig.colorbar(shown, ax=axes[0, 1], fraction=0.046, pad=0.02)
    for j in range(k):
        assert counterfactuals is not None
        axes[0, 2 + j].imshow(_rgb(counterfactuals[j]))
        p = probabilities[j] if j < len(probabilities) else float("nan")
        axes[0, 2 + j].set_title(f"counterfactual {j + 1}\np={p:.2f}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write(path, lambda fh: fh.write(buffer.getvalue()))


def _rgb(image: Tensor):  # type: ignore[no-untyped-def]
    r"""``(C, H, W)`` -> an ``(H, W, 3)`` array matplotlib shows."""
    x = image.detach().float().cpu().clamp(0, 1)
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return x[:3].permute(1, 2, 0).numpy()
