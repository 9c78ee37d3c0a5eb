r"""OpenCV's classical inpainting (``cv2.inpaint``) as an infiller.

Two PDE-style methods: Telea's fast marching method and the Navier-Stokes
based method of Bertalmio et al. Both propagate the observed pixels into the
holes from their borders; they never read the dropped pixels (honest), and
are deterministic. They run on the CPU, image by image, through numpy, so
they are slow compared with the tensor infillers; they need
``opencv-python`` (or ``opencv-python-headless``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido.infillers._base import Infiller

__all__ = ["OpenCVInfiller"]

_METHODS = ("telea", "ns")
_LEVELS = 65535.0


class OpenCVInfiller(Infiller):
    r"""Fill dropped pixels with ``cv2.inpaint`` (Telea or Navier-Stokes).

    Images may have any number of channels and any value range: each image
    is scaled to its observed pixels' range, inpainted channel by channel as
    16-bit integers (OpenCV's Telea mishandles float images; the rounding
    error is below 2e-5 of the range) and scaled back. Observed pixels are
    returned exactly. An image with no observed pixel has nothing to
    propagate and is filled with 0.

    Args:
        method (str, optional): ``"telea"`` (default) or ``"ns"``.
        radius (float, optional): Neighbourhood radius in pixels considered
            around each filled pixel (> 0). Default 5.

    Examples::

        >>> from captum_fido.infillers import OpenCVInfiller
        >>> fill = OpenCVInfiller("ns", radius=3)
        >>> ref = fill(torch.rand(1, 3, 64, 64), torch.ones(1, 1, 64, 64))
    """

    uses_mask = True
    honest = True

    def __init__(self, method: str = "telea", radius: float = 5.0) -> None:
        V.check_choice(method, "method", _METHODS)
        if isinstance(radius, bool) or not isinstance(radius, (int, float)):
            raise TypeError(f"radius must be a number, got {type(radius).__name__}")
        if not (radius > 0 and np.isfinite(radius)):
            raise ValueError(f"radius must be positive and finite, got {radius!r}")
        try:
            import cv2  # noqa: F401
        except ImportError as err:  # pragma: no cover - depends on install
            raise ImportError(
                "OpenCVInfiller needs OpenCV: pip install opencv-python-headless"
            ) from err
        self.method = method
        self.radius = float(radius)

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        import cv2

        flag = cv2.INPAINT_TELEA if self.method == "telea" else cv2.INPAINT_NS
        xs = x.detach().cpu().double().numpy()
        keep = keep_mask.detach().cpu().numpy()[:, 0] > 0.5
        out = np.empty_like(xs)
        for i in range(xs.shape[0]):
            img = np.where(keep[i][None], xs[i], 0.0)
            if keep[i].all():
                out[i] = img
                continue
            if not keep[i].any():
                # Nothing observed: there is nothing to propagate.
                out[i] = 0.0
                continue
            observed = img[:, keep[i]]
            lo, hi = float(observed.min()), float(observed.max())
            scale = hi - lo if hi > lo else 1.0
            norm = np.clip((img - lo) / scale, 0.0, 1.0)
            # 16-bit integers: OpenCV's Telea mishandles float32 images.
            q = np.round(norm * _LEVELS).astype(np.uint16)
            hole = (~keep[i]).astype(np.uint8)
            filled = np.empty_like(norm)
            for c in range(q.shape[0]):
                filled[c] = cv2.inpaint(q[c], hole, self.radius, flag) / _LEVELS
            filled = np.where(keep[i][None], img, filled * scale + lo)
            out[i] = filled
        return torch.from_numpy(out).to(dtype=x.dtype, device=x.device)
