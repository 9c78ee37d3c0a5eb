r"""ROAD's noisy linear imputation (Rong et al., ICML 2022).

Rong, Leemann, Borisov, Kasneci and Kasneci, "A Consistent and Efficient
Evaluation Strategy for Attribution Methods" (ROAD: RemOve And Debias)
observe that removal orders leak the class through the *shape* of the
removed region when the in-fill follows the mask's edges. Their noisy linear
imputation fills each removed pixel with the weighted mean of its eight
neighbours (direct neighbours weight 1/6, diagonal ones 1/12), where
removed neighbours are themselves unknowns, so all removed pixels of an
image are found at once from one sparse linear system, and then adds small
Gaussian noise (standard deviation 0.01) to the imputed values.
"""

from __future__ import annotations

import numbers
from typing import Optional, Tuple

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
from torch import Tensor

from captum_fido.infillers._base import Infiller

__all__ = ["NoisyLinearInfiller", "noisy_linear_imputation"]

#: ``(dy, dx, weight)``: direct neighbours 1/6, diagonal neighbours 1/12.
_NEIGHBOURS: Tuple[Tuple[int, int, float], ...] = (
    (-1, -1, 1 / 12),
    (-1, 0, 1 / 6),
    (-1, 1, 1 / 12),
    (0, -1, 1 / 6),
    (0, 1, 1 / 6),
    (1, -1, 1 / 12),
    (1, 0, 1 / 6),
    (1, 1, 1 / 12),
)

_OUTSIDE, _KNOWN = -2, -1


def noisy_linear_imputation(
    x: np.ndarray, removed: np.ndarray, fill_value: float = 0.0
) -> np.ndarray:
    r"""Noise-free linear imputation of the removed pixels of a batch.

    For every removed pixel ``p`` with in-image neighbours ``N(p)`` and
    weights ``w_pq`` (1/6 direct, 1/12 diagonal)

    .. math::

        \Big(\sum_{q \in N(p)} w_{pq}\Big)\, v_p
        - \sum_{q \in N(p),\ q\ \mathrm{removed}} w_{pq}\, v_q
        = \sum_{q \in N(p),\ q\ \mathrm{kept}} w_{pq}\, x_q ,

    i.e. each imputed value is the weighted mean of its neighbours. Each
    image's system is symmetric positive definite (every 8-connected region
    of removed pixels borders a kept pixel); it is factorised once (sparse
    LU) and solved for every channel. An image with no kept pixel at all is
    filled with ``fill_value``.

    Args:
        x (numpy.ndarray): ``(N, C, H, W)`` images; removed pixels are never
            read.
        removed (numpy.ndarray): ``(N, H, W)`` booleans, ``True`` = impute.
        fill_value (float, optional): Value for images with no kept pixel.

    Returns:
        ``(N, C, H, W)`` float64 array: ``x`` at kept pixels, the imputation
        at removed ones.

    Examples::

        >>> from captum_fido.infillers.road import noisy_linear_imputation
        >>> x = np.random.rand(2, 3, 16, 16)
        >>> removed = np.random.rand(2, 16, 16) < 0.3
        >>> noisy_linear_imputation(x, removed).shape
        (2, 3, 16, 16)
    """
    removed = np.asarray(removed, dtype=bool)
    if (
        removed.ndim != 3
        or np.ndim(x) != 4
        or removed.shape
        != (
            np.shape(x)[0],
            *np.shape(x)[2:],
        )
    ):
        raise ValueError(
            f"removed must have shape (N, H, W) matching x (N, C, H, W), got "
            f"{removed.shape} and {np.shape(x)}"
        )
    # Removed pixels are zeroed before anything else: never read.
    out = np.where(removed[:, None], 0.0, np.asarray(x, dtype=np.float64))
    for i in range(out.shape[0]):
        if removed[i].all():
            # Nothing kept, nothing to impute from. (Any other removed region,
            # 8-connected, borders a kept pixel, so its system is regular.)
            out[i] = fill_value
        elif removed[i].any():
            _impute_image(out[i], removed[i])
    return out


def _impute_image(known: np.ndarray, removed: np.ndarray) -> None:
    r"""Fill ``known[:, removed]`` (``(C, H, W)``, removed pixels zero) in place."""
    c, h, w = known.shape
    ys, xs = np.nonzero(removed)  # C order, as ``index`` is filled
    m = ys.size
    index = np.full((h, w), _KNOWN, dtype=np.int64)
    index[ys, xs] = np.arange(m)
    padded_index = np.pad(index, 1, constant_values=_OUTSIDE)
    padded = np.pad(known, ((0, 0), (1, 1), (1, 1)))
    diag = np.zeros(m)
    rhs = np.zeros((m, c))
    rows, cols, vals = [], [], []
    for dy, dx, weight in _NEIGHBOURS:
        ny, nx = ys + 1 + dy, xs + 1 + dx
        nb = padded_index[ny, nx]
        diag += weight * (nb != _OUTSIDE)
        is_known = nb == _KNOWN
        k = np.nonzero(is_known)[0]
        rhs[k] += weight * padded[:, ny[k], nx[k]].T
        u = np.nonzero(nb >= 0)[0]
        rows.append(u)
        cols.append(nb[u])
        vals.append(np.full(u.size, -weight))

    a = scipy.sparse.csc_matrix(
        (
            np.concatenate([diag, *vals]),
            (
                np.concatenate([np.arange(m), *rows]),
                np.concatenate([np.arange(m), *cols]),
            ),
        ),
        shape=(m, m),
    )
    # Symmetric positive definite: a symmetric ordering and no pivoting.
    lu = scipy.sparse.linalg.splu(
        a,
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    known[:, ys, xs] = lu.solve(rhs).reshape(m, c).T


class NoisyLinearInfiller(Infiller):
    r"""ROAD's noisy linear imputation as an evaluation in-filler.

    Each removed pixel (``keep_mask < 0.5``) becomes the weighted mean of
    its eight neighbours (direct 1/6, diagonal 1/12; removed neighbours are
    unknowns too), solved exactly as one sparse linear system per image
    (the channels share the matrix), plus Gaussian noise:

    .. math::

        \mathrm{fill}(x, z)_p = v_p + \sigma \varepsilon_p,
        \qquad \varepsilon_p \sim \mathcal{N}(0, 1),

    with ``v`` the solution of the system of
    :func:`noisy_linear_imputation` (``fill_value`` for an image with
    nothing kept).

    The fill never reads removed pixels (``honest``); with ``noise_std > 0``
    it is ``stochastic`` and draws its noise from the generator it is given.
    The solve runs on the CPU in float64 (scipy); the result returns to
    ``x``'s device and dtype.

    Args:
        noise_std (float, optional): ``sigma``, in the units of ``x``
            (ROAD's default 0.01, meant for ``[0, 1]`` pixel values; scale
            it for normalised inputs). 0 gives the deterministic
            imputation.
        fill_value (float, optional): The fill of images whose pixels are
            all removed. Default 0.

    Examples::

        >>> from captum_fido.infillers import NoisyLinearInfiller
        >>> fill = NoisyLinearInfiller(noise_std=0.01)
        >>> x = torch.rand(2, 3, 32, 32)
        >>> keep = (torch.rand(2, 1, 32, 32) > 0.3).float()
        >>> ref = fill(x, keep, torch.Generator().manual_seed(0))
        >>> phi = keep * x + (1 - keep) * ref
    """

    uses_mask = True
    honest = True

    def __init__(self, noise_std: float = 0.01, fill_value: float = 0.0) -> None:
        for name, value in (("noise_std", noise_std), ("fill_value", fill_value)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(
                    f"{name} must be a real number, got {type(value).__name__}"
                )
            if not np.isfinite(float(value)):
                raise ValueError(f"{name} must be finite, got {value}")
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.noise_std = float(noise_std)
        self.fill_value = float(fill_value)
        self.stochastic = self.noise_std > 0

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        removed = keep_mask[:, 0] < 0.5
        # Zero the removed pixels before they leave for numpy: never read.
        observed = torch.where(removed[:, None], torch.zeros_like(x), x)
        filled = noisy_linear_imputation(
            observed.detach().cpu().double().numpy(),
            removed.cpu().numpy(),
            self.fill_value,
        )
        out = torch.from_numpy(filled).to(device=x.device, dtype=x.dtype)
        if self.noise_std > 0:
            noise = torch.randn(
                x.shape, generator=generator, device=x.device, dtype=x.dtype
            )
            out = out + self.noise_std * noise * removed[:, None].to(x.dtype)
        return out
