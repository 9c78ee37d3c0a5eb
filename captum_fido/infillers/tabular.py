r"""Infillers for tabular data: feature rows ``(N, F)`` with keep masks ``(N, F)``.

An image in-filler guesses dropped pixels from their neighbours; features
have no neighbours, so a tabular in-filler learns what features look like
from training data (:meth:`fit`) and fills the dropped features of a row from
the ones it keeps:

- :class:`GaussianConditionalInfiller`: a multivariate Gaussian fitted to
  the training rows; dropped features are drawn from their conditional
  distribution given the kept ones (or set to its mean).
- :class:`NearestNeighbourInfiller`: the kept features are matched to the
  training rows, and the dropped ones are copied from one of the nearest.
- :class:`FeatureMeanInfiller`: each dropped feature takes its training
  mean (the tabular analogue of a grey fill; it ignores the kept features).

All three are honest (they never read the features they fill) and set
``tabular = True``: they take ``x`` of shape ``(N, F)`` and a keep mask of the
same shape, 1 where a feature is kept. FIDO and BBMP hand them exactly that
when ``attribute`` is given ``(N, F)`` inputs.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido.infillers._base import Infiller

__all__ = [
    "TabularInfiller",
    "GaussianConditionalInfiller",
    "NearestNeighbourInfiller",
    "FeatureMeanInfiller",
]


class TabularInfiller(Infiller):
    r"""Base of the tabular infillers: fitted on training rows, then filling
    rows with the same features.

    Subclasses implement :meth:`_fit` (store statistics of the training rows
    as float64 CPU tensors) and :meth:`_fill` (rows, keep mask and those
    statistics on the rows' device and dtype).

    Examples::

        >>> class MedianInfiller(TabularInfiller):
        ...     uses_mask = False
        ...
        ...     def _fit(self, rows):
        ...         self._median = rows.median(dim=0).values
        ...
        ...     def _fill(self, x, keep, generator):
        ...         return self._median.to(x.device, x.dtype).expand_as(x)
        >>> fill = MedianInfiller().fit(X_train)
        >>> ref = fill(X_test, torch.ones_like(X_test))
    """

    tabular = True

    def __init__(self) -> None:
        self.n_features: Optional[int] = None

    def fit(self, X: Any) -> TabularInfiller:
        r"""Learn the training distribution of the features.

        Args:
            X (Tensor or numpy.ndarray): Training rows ``(M, F)``, finite,
                in the model's input space (after any standardisation the
                model expects), at least two rows.

        Returns:
            The infiller itself, so ``GaussianConditionalInfiller().fit(X)``
            can be passed on directly.
        """
        rows = _training_rows(X)
        self.n_features = int(rows.shape[1])
        self._fit(rows)
        return self

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        name = type(self).__name__
        if self.n_features is None:
            raise RuntimeError(f"{name} is not fitted: call .fit(X_train) first")
        if x.shape[1] != self.n_features:
            raise ValueError(
                f"{name} was fitted on {self.n_features} features, but the rows "
                f"to fill have {x.shape[1]}"
            )
        keep = keep_mask.to(x.dtype)
        filled = self._fill(x, keep, generator)
        if not self.uses_mask:
            # A fixed reference: the loop asks for it once, with nothing dropped.
            return filled
        # Kept features are the row's own; only the dropped ones are filled.
        return torch.where(keep > 0.5, x, filled)

    @abstractmethod
    def _fit(self, rows: Tensor) -> None:
        r"""Store what filling needs from ``(M, F)`` float64 CPU training rows."""

    @abstractmethod
    def _fill(
        self, x: Tensor, keep: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        r"""Fill values for every feature of ``x`` (``keep``: 1 = kept), on
        ``x``'s device and dtype; only the dropped ones are used."""

    def __repr__(self) -> str:
        state = "unfitted" if self.n_features is None else f"F={self.n_features}"
        return f"{type(self).__name__}({state})"


#: The largest condition number of the fitted covariance (as a correlation
#: matrix, so features on different scales are fine) that
#: :class:`GaussianConditionalInfiller` accepts: its inverse keeps about four
#: of float64's sixteen digits.
MAX_CONDITION = 1e12


class GaussianConditionalInfiller(TabularInfiller):
    r"""Dropped features drawn from a Gaussian conditioned on the kept ones.

    :meth:`fit` estimates the training rows' mean ``mu`` and covariance
    ``S``, shrunk towards its diagonal (``(1 - shrinkage) S + shrinkage
    diag(S)``) so it stays invertible with few rows or collinear features.
    A covariance that is still singular or nearly so (condition number above
    :data:`MAX_CONDITION`, e.g. ``shrinkage=0`` with a feature that is a
    linear combination of others, or fewer rows than features) is refused by
    :meth:`fit` with a ``ValueError`` that says what to change.
    For a row with kept features ``K`` and dropped ``D``, the dropped ones
    are drawn from ``N(mu_D + S_DK S_KK^-1 (x_K - mu_K), S_DD - S_DK S_KK^-1
    S_KD)`` (computed through the precision matrix, all rows at once), from
    the ``generator`` the loop hands in; with ``sample=False`` they are set
    to that conditional mean (deterministic).

    Args:
        shrinkage (float, optional): Weight in ``[0, 1]`` of the diagonal in
            the covariance. Default 0.05.
        sample (bool, optional): Draw from the conditional (default ``True``,
            ``stochastic``) or use its mean (``False``).

    Examples::

        >>> fill = GaussianConditionalInfiller().fit(X_train)
        >>> keep = torch.ones_like(X_test[:4]); keep[:, 0] = 0
        >>> fill(X_test[:4], keep, torch.Generator().manual_seed(0)).shape
        torch.Size([4, 30])
    """

    honest = True

    def __init__(self, shrinkage: float = 0.05, sample: bool = True) -> None:
        super().__init__()
        self.shrinkage = V.check_unit_interval(shrinkage, "shrinkage")
        self.sample = V.check_bool(sample, "sample")
        self.stochastic = self.sample
        self._mean = torch.empty(0)
        self._precision = torch.empty(0)

    def _fit(self, rows: Tensor) -> None:
        cov = torch.cov(rows.T).reshape(rows.shape[1], rows.shape[1])
        cov = (1 - self.shrinkage) * cov + self.shrinkage * torch.diag(cov.diag())
        if bool((cov.diag() <= 0).any()):
            raise ValueError(
                "GaussianConditionalInfiller.fit: some features are constant in "
                "X; drop them or use NearestNeighbourInfiller"
            )
        # Conditioning of the correlation matrix: features on different
        # scales are fine, (nearly) dependent features are not.
        scale = cov.diag().sqrt()
        corr = cov / (scale[:, None] * scale[None, :])
        eig = torch.linalg.eigvalsh(corr)
        cond = float(eig[-1] / eig[0]) if float(eig[0]) > 0 else math.inf
        if not cond <= MAX_CONDITION:
            # Inverting it would lose every digit (or fail): refuse clearly
            # rather than fill with noise or surface a LinAlgError later.
            m, f = rows.shape
            few = f" and X has fewer rows ({m}) than features ({f})" if m <= f else ""
            raise ValueError(
                "GaussianConditionalInfiller.fit: the covariance of X is singular "
                f"or nearly so (condition number {cond:.3g} > {MAX_CONDITION:.0e} "
                f"with shrinkage={self.shrinkage:g}): some features are (nearly) "
                f"linear combinations of others{few}. Give shrinkage > 0 (the "
                "default 0.05 regularises it), drop redundant features, or use "
                "NearestNeighbourInfiller"
            )
        self._mean = rows.mean(dim=0)
        self._precision = torch.linalg.inv(corr) / (scale[:, None] * scale[None, :])

    def _fill(
        self, x: Tensor, keep: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        mean = self._mean.to(x.device, torch.float64)
        precision = self._precision.to(x.device, torch.float64)
        keep64 = keep.to(torch.float64)
        drop = 1.0 - keep64
        # With the precision P, the conditional of D given K has precision
        # P_DD and mean mu_D - P_DD^-1 P_DK (x_K - mu_K). Embedding P_DD in an
        # F x F matrix with the identity on K solves every row's own split in
        # one batched Cholesky; the K entries of the solution are zero.
        a = precision * drop[:, :, None] * drop[:, None, :]
        a = a + torch.diag_embed(keep64)
        b = -(precision * drop[:, :, None]) @ (keep64 * (x.double() - mean))[..., None]
        chol = torch.linalg.cholesky(a)
        out = mean + torch.cholesky_solve(b, chol).squeeze(-1)
        if self.sample:
            eps = torch.randn(
                x.shape, generator=generator, device=x.device, dtype=torch.float64
            )
            # chol^-T eps has covariance (chol chol^T)^-1 = P_DD^-1 on D.
            noise = torch.linalg.solve_triangular(
                chol.transpose(-1, -2), eps[..., None], upper=True
            )
            out = out + noise.squeeze(-1)
        return out.to(x.dtype)


class NearestNeighbourInfiller(TabularInfiller):
    r"""Dropped features copied from a training row close on the kept ones.

    :meth:`fit` stores the training rows and each feature's spread. For a row
    to fill, distances to every training row are taken over its *kept*
    features only (standardised, mean squared difference), and the dropped
    features are copied from one of the ``n_neighbors`` nearest, chosen at
    random with the loop's ``generator`` (ties, such as a row with nothing
    kept, are broken at random, so that row gets a random training row: a
    draw from the marginal distribution).

    Args:
        n_neighbors (int, optional): How many nearest rows to choose from.
            Default 5.

    Examples::

        >>> fill = NearestNeighbourInfiller(n_neighbors=3).fit(X_train)
        >>> keep = torch.ones_like(X_test[:4]); keep[:, :10] = 0
        >>> filled = fill(X_test[:4], keep, torch.Generator().manual_seed(0))
    """

    stochastic = True
    honest = True

    def __init__(self, n_neighbors: int = 5) -> None:
        super().__init__()
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, int):
            raise TypeError(
                f"n_neighbors must be an int, got {type(n_neighbors).__name__}"
            )
        if n_neighbors < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {n_neighbors}")
        self.n_neighbors = n_neighbors
        self._rows = torch.empty(0)
        self._mean = torch.empty(0)
        self._scale = torch.empty(0)

    def _fit(self, rows: Tensor) -> None:
        if self.n_neighbors > rows.shape[0]:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} exceeds the {rows.shape[0]} "
                "training rows"
            )
        self._rows = rows
        self._mean = rows.mean(dim=0)
        # Constant features carry no distance information; do not divide by 0.
        self._scale = rows.std(dim=0).clamp_min(1e-12)

    def _fill(
        self, x: Tensor, keep: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        train, z_train, z = self._standardised(x)
        # sum_f keep_f (z_f - t_f)^2, expanded so no (rows, M, F) tensor forms.
        dist = (
            (keep * z * z).sum(dim=1, keepdim=True)
            - 2.0 * (keep * z) @ z_train.T
            + keep @ (z_train * z_train).T
        ) / keep.sum(dim=1, keepdim=True).clamp_min(1.0)
        jitter = torch.rand(
            dist.shape, generator=generator, device=x.device, dtype=x.dtype
        )
        nearest = (dist + 1e-6 * jitter).topk(self.n_neighbors, largest=False).indices
        pick = torch.randint(
            self.n_neighbors, (x.shape[0], 1), generator=generator, device=x.device
        )
        return train[nearest.gather(1, pick).squeeze(1)]

    def _standardised(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        train = self._rows.to(x.device, x.dtype)
        mean = self._mean.to(x.device, x.dtype)
        scale = self._scale.to(x.device, x.dtype)
        return train, (train - mean) / scale, (x - mean) / scale


class FeatureMeanInfiller(TabularInfiller):
    r"""Each dropped feature set to its training mean (mask-independent).

    The tabular counterpart of a constant fill: it ignores the kept features,
    so it is computed once per run. A baseline for the conditional
    infillers, and the usual "remove a feature" of permutation-free
    importance.

    Examples::

        >>> fill = FeatureMeanInfiller().fit(X_train)
    """

    uses_mask = False
    honest = True

    def __init__(self) -> None:
        super().__init__()
        self._mean = torch.empty(0)

    def _fit(self, rows: Tensor) -> None:
        self._mean = rows.mean(dim=0)

    def _fill(
        self, x: Tensor, keep: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        return self._mean.to(x.device, x.dtype).expand_as(x)


def _training_rows(X: Any) -> Tensor:
    r"""Training rows as a float64 CPU tensor ``(M, F)``, checked."""
    if isinstance(X, np.ndarray):
        X = torch.from_numpy(np.asarray(X, dtype=np.float64))
    if not isinstance(X, Tensor):
        raise TypeError(
            f"X must be a tensor or a numpy array of rows (M, F), got "
            f"{type(X).__name__}"
        )
    if X.dim() != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(
            f"X must hold at least two training rows of features (M, F), got "
            f"shape {tuple(X.shape)}"
        )
    if not (X.is_floating_point() or X.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"X must hold numbers, got {X.dtype}")
    rows = X.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(rows).all()):
        raise ValueError("X holds NaN or infinite values")
    return rows
