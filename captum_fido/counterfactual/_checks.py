r"""Checks of what the user's encoder and generator return, run once on the
query images before any optimisation step (the classifier's output is checked
by the shared :func:`captum_fido._utils.scores.check_model_output`)."""

from __future__ import annotations

from typing import Any, Tuple

import torch
from torch import Tensor

__all__ = ["check_latent", "check_generated"]


def check_latent(latent: Any, n: int) -> Tensor:
    r"""The encoder's codes: a finite float tensor ``(N, ...)``, detached."""
    if not isinstance(latent, Tensor):
        raise TypeError(
            "encoder must return a tensor of latent codes (for a VAE: the "
            f"posterior mean), got {type(latent).__name__}"
        )
    if not latent.is_floating_point():
        raise TypeError(
            f"encoder must return a floating-point tensor, got {latent.dtype}"
        )
    if latent.dim() < 2 or latent.shape[0] != n or latent.numel() == 0:
        raise ValueError(
            f"encoder must return latent codes of shape (N={n}, ...), "
            f"got {tuple(latent.shape)}"
        )
    if not bool(torch.isfinite(latent).all()):
        raise ValueError("encoder returned NaN or infinite latent codes")
    return latent.detach().clone()


def check_generated(images: Any, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
    r"""The generator's images: float tensors shaped exactly like the inputs."""
    if isinstance(images, Tensor):
        images = (images,)
    if not isinstance(images, tuple) or not all(isinstance(i, Tensor) for i in images):
        raise TypeError(
            "generator must return a tensor (a tuple of tensors for tuple "
            f"inputs), got {type(images).__name__}"
        )
    if len(images) != len(inputs):
        raise ValueError(
            f"generator returned {len(images)} tensors for {len(inputs)} inputs"
        )
    for i, (img, x) in enumerate(zip(images, inputs)):
        if img.shape != x.shape:
            name = "inputs" if len(inputs) == 1 else f"inputs[{i}]"
            raise ValueError(
                f"generator output {tuple(img.shape)} does not match the shape of "
                f"{name} {tuple(x.shape)}: G(E(x)) must be an image like x"
            )
        if not img.is_floating_point():
            raise TypeError(f"generator must return floating point, got {img.dtype}")
    return tuple(img.detach().clone() for img in images)
