r"""The demo's in-fillers: the paper's four heuristics scaled to an image
size, and the demo's trained networks beside them.

``captum-fido compare``, ``captum-fido explain``, the benchmarks and the
tutorials take their in-fillers from here.

Examples::

    >>> from captum_fido.demo.infillers import demo_infillers, paper_infillers
    >>> sorted(paper_infillers(64, [0.5, 0.5, 0.5]))
    ['Blur', 'Local', 'Mean', 'Random']
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence, Union

from captum_fido.infillers import (
    BlurInfiller,
    Infiller,
    LocalInfiller,
    MeanInfiller,
    RandomInfiller,
)

__all__ = ["paper_infillers", "demo_infillers"]


def paper_infillers(size: int, mean: Sequence[float]) -> Dict[str, Infiller]:
    r"""The paper's four heuristic in-fillers, scaled to ``size`` px images.

    The paper's settings are for 224 px: Blur's sigma (10) and Local's window
    (15) are scaled by ``size / 224``; Mean fills with ``mean``, the data's
    per-channel mean.

    Args:
        size (int): Image side in pixels.
        mean (sequence of float): Per-channel fill of the Mean in-filler.

    Returns:
        dict with ``"Mean"``, ``"Blur"``, ``"Random"`` and ``"Local"``.

    Examples::

        >>> fills = paper_infillers(224, [0.485, 0.456, 0.406])
        >>> fills["Blur"].sigma, fills["Local"].window
        (10.0, 15)
    """
    # An odd window of about 15 * size / 224 (15 at 224 px, 5 at 64 px).
    window = max(3, 2 * int(15 * size / 224 / 2) + 1)
    return {
        "Mean": MeanInfiller(mean),
        "Blur": BlurInfiller(sigma=10.0 * size / 224),
        "Random": RandomInfiller(),
        "Local": LocalInfiller(window=window),
    }


def demo_infillers(
    size: int = 64, inpainter: Optional[Union[str, Path]] = None
) -> Dict[str, Infiller]:
    r"""The paper's in-fillers at the demo's resolution (:func:`paper_infillers`,
    Mean filling with the training scenes' per-channel mean), plus the trained
    ones.

    Args:
        size (int, optional): Image side in pixels, used to scale the heuristic
            in-fillers and to load the training scenes for the mean. The
            trained in-fillers work at 64 px. Default 64.
        inpainter (str or Path, optional): The in-painter's state_dict for
            ``"Inpainter"`` (its JSON summary beside it); default the
            shipped one.

    Returns:
        dict with ``"Mean"``, ``"Blur"``, ``"Random"``, ``"Local"``, ``"VAE"``
        (:func:`~captum_fido.demo.pretrained.load_vae_infiller`) and
        ``"Inpainter"``
        (:func:`~captum_fido.demo.pretrained.load_inpainter_infiller`).

    Examples::

        >>> fills = demo_infillers()
        >>> sorted(fills)
        ['Blur', 'Inpainter', 'Local', 'Mean', 'Random', 'VAE']
    """
    from captum_fido.demo.pretrained import load_inpainter_infiller, load_vae_infiller
    from captum_fido.demo.scenes import load_split

    train, _ = load_split("train", 256, size=size)
    return {
        **paper_infillers(size, train.mean(dim=(0, 2, 3)).tolist()),
        "VAE": load_vae_infiller(),
        "Inpainter": load_inpainter_infiller(inpainter),
    }
