r"""Whether a map says anything: empty, flooded or informative.

A mask method's map can fail in two ways that no score average shows: it
keeps (or drops) *nothing*, so every value is near 0, or it keeps (or drops)
*nearly everything*, so the region covers most of the input. Both are
explanations of nothing; :func:`map_status` names them per map so that
warnings, result tables and indexes can say so instead of ranking them.

The statuses, for a map with values in ``[0, 1]`` (FIDO's keep or drop
probabilities, BBMP's mask, or any method's map scaled to ``[0, 1]``):

- ``"empty"``: every value is below :data:`EMPTY_BELOW` (nothing selected);
- ``"flooded"``: the map's mean, the expected share of the input selected, is
  at least :data:`FLOODED_AREA` (nearly everything selected);
- ``"ok"``: neither.
"""

from __future__ import annotations

from typing import List

import torch
from torch import Tensor

__all__ = ["map_status", "EMPTY_BELOW", "FLOODED_AREA", "MAP_STATUSES"]

#: A map is empty when every value is below this.
EMPTY_BELOW = 0.1
#: A map is flooded when its mean (the expected share selected) is at least this.
FLOODED_AREA = 0.75
#: Every status :func:`map_status` returns.
MAP_STATUSES = ("ok", "empty", "flooded")


def map_status(maps: Tensor) -> List[str]:
    r"""Per map, ``"empty"``, ``"flooded"`` or ``"ok"``.

    Args:
        maps (Tensor): ``(N, ...)`` floating-point maps with values in
            ``[0, 1]``, one per row: ``(N, C, H, W)`` attributions,
            ``(N, H, W)`` maps or ``(N, F)`` feature maps. Scale other
            methods' maps to ``[0, 1]`` first (e.g. ``a.abs() / a.abs().max()``).

    Returns:
        list of str, one status per map (see the module's description).

    Raises:
        TypeError: ``maps`` is not a floating-point tensor.
        ValueError: ``maps`` has fewer than 2 dimensions, no row, or values
            outside ``[0, 1]`` (or NaN).

    Examples::

        >>> from captum_fido.metrics import map_status
        >>> maps = torch.zeros(3, 1, 8, 8)
        >>> maps[1, :, :4, :4] = 1.0        # a quarter selected
        >>> maps[2] = 0.9                    # nearly everything
        >>> map_status(maps)
        ['empty', 'ok', 'flooded']
    """
    if not isinstance(maps, Tensor) or not maps.is_floating_point():
        raise TypeError(
            "maps must be a floating-point torch.Tensor, got "
            f"{getattr(maps, 'dtype', type(maps).__name__)}"
        )
    if maps.dim() < 2 or maps.shape[0] == 0 or maps[0].numel() == 0:
        raise ValueError(
            f"maps must be (N, ...) with N >= 1 non-empty maps, got {tuple(maps.shape)}"
        )
    flat = maps.detach().flatten(1)
    if not bool(((flat >= 0) & (flat <= 1)).all()):
        raise ValueError("maps must hold values in [0, 1] (and no NaN)")
    empty = flat.amax(dim=1) < EMPTY_BELOW
    flooded = flat.mean(dim=1) >= FLOODED_AREA
    status = torch.where(empty, 1, torch.where(flooded, 2, 0))
    return [MAP_STATUSES[int(s)] for s in status]
