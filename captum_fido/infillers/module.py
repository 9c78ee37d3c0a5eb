r"""Learned in-painters as infillers: any ``nn.Module`` (masked image, mask) -> image.

A user with inpainting weights (LaMa, a contextual-attention GAN, a
completion VAE, ...) wraps the network in :class:`ModuleInfiller` and hands it
to :class:`~captum_fido.FIDO`. The adapter zeroes (or fills with a constant)
the dropped pixels before the module sees them, so the module cannot read
them: the result is *honest* by construction.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from captum_fido._utils import validation as V
from captum_fido.infillers._base import Infiller, check_infill_output

__all__ = ["ModuleInfiller", "VAEInfiller"]

_MASK_CONVENTIONS = ("keep", "hole")


class ModuleInfiller(Infiller):
    r"""Adapt an inpainting network to the :class:`Infiller` protocol.

    The module is called as::

        completed = module(masked_image, mask)             # default
        completed = module(masked_image, mask, generator=g)  # pass_generator

    - ``masked_image``: ``(N, C, H, W)``, the input with every dropped pixel
      set to ``fill_value`` (after ``preprocess``, if given).
    - ``mask``: ``(N, 1, H, W)`` float in ``{0, 1}``; with
      ``mask_convention="keep"`` 1 marks observed pixels (this package's
      convention), with ``"hole"`` 1 marks pixels to fill (LaMa's and most
      GAN inpainters' convention).
    - ``completed``: ``(N, C, H, W)`` with the same dtype and device; only
      its values at dropped pixels are used.

    The output is checked: a wrong shape, dtype or device, or a non-finite
    value raises a ``ValueError`` naming the module.

    Args:
        module (nn.Module or callable): The inpainting network. Put it in
            eval mode yourself if it has dropout or BatchNorm; the adapter
            never changes its mode or parameters.
        mask_convention (str, optional): ``"keep"`` (default) or ``"hole"``.
        fill_value (float, optional): Value written at dropped pixels
            before the call. Default 0.
        method (str, optional): Name of a method of ``module`` to call
            instead of ``forward`` (e.g. ``"predictive_mean"``).
        preprocess (callable, optional): Maps ``x`` into the module's input
            space (e.g. undo ImageNet normalisation), applied before masking.
        postprocess (callable, optional): Maps the module's output back into
            ``x``'s space.
        pass_generator (bool, optional): Pass ``generator=`` to the module;
            use for samplers (GANs with input noise). Marks the infiller
            ``stochastic``. Default ``False``.
        internal_batch_size (int, optional): Call the module on at most this many
            images at once (bounds memory). Default: all at once.

    Examples::

        >>> from captum_fido.infillers import ModuleInfiller
        >>> lama = load_my_lama().eval()   # takes (image, hole_mask)
        >>> infiller = ModuleInfiller(lama, mask_convention="hole")
        >>> reference = infiller(images, keep_mask)
    """

    uses_mask = True
    honest = True

    def __init__(
        self,
        module: Callable[..., Tensor],
        mask_convention: str = "keep",
        fill_value: float = 0.0,
        method: Optional[str] = None,
        preprocess: Optional[Callable[[Tensor], Tensor]] = None,
        postprocess: Optional[Callable[[Tensor], Tensor]] = None,
        pass_generator: bool = False,
        internal_batch_size: Optional[int] = None,
    ) -> None:
        if not callable(module):
            raise TypeError(
                f"module must be an nn.Module or callable, got {type(module).__name__}"
            )
        if mask_convention not in _MASK_CONVENTIONS:
            raise ValueError(
                f"mask_convention must be one of {_MASK_CONVENTIONS}, "
                f"got {mask_convention!r}"
            )
        fill_value = V.check_finite(fill_value, "fill_value")
        if method is not None:
            if not isinstance(method, str) or not callable(
                getattr(module, method, None)
            ):
                raise ValueError(
                    f"method must name a method of the module, got {method!r}"
                )
        for name, fn in (("preprocess", preprocess), ("postprocess", postprocess)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        if internal_batch_size is not None:
            V.check_positive_int(internal_batch_size, "internal_batch_size")
        V.check_bool(pass_generator, "pass_generator")
        self.module = module
        self.mask_convention = mask_convention
        self.fill_value = float(fill_value)
        self.method = method
        self.preprocess = preprocess
        self.postprocess = postprocess
        self.pass_generator = bool(pass_generator)
        self.stochastic = self.pass_generator
        self.internal_batch_size = internal_batch_size

    def _name(self) -> str:
        return f"{type(self).__name__}({type(self.module).__name__})"

    def _call(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        fn = self.module if self.method is None else getattr(self.module, self.method)
        if self.preprocess is not None:
            x = self.preprocess(x)
            if not isinstance(x, Tensor) or x.dim() != 4:
                raise ValueError(
                    "preprocess must return an (N, C, H, W) tensor, got "
                    f"{getattr(x, 'shape', type(x).__name__)}"
                )
        keep = keep_mask.to(x.dtype)
        masked = x * keep + self.fill_value * (1 - keep)
        mask = keep if self.mask_convention == "keep" else 1 - keep
        if self.pass_generator:
            out = fn(masked, mask, generator=generator)
        else:
            out = fn(masked, mask)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{self._name()}: module must return a Tensor, got {type(out).__name__}"
            )
        if self.postprocess is not None:
            out = self.postprocess(out)
        return out

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        step = self.internal_batch_size or x.shape[0]
        outs = []
        for i in range(0, x.shape[0], step):
            xi, ki = x[i : i + step], keep_mask[i : i + step]
            out = self._call(xi, ki, generator)
            # The same contract every infiller's output meets, checked per chunk.
            check_infill_output(out, xi, f"{self._name()} (its module)")
            outs.append(out)
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(module={type(self.module).__name__}, "
            f"mask_convention={self.mask_convention!r}, method={self.method!r})"
        )


class VAEInfiller(ModuleInfiller):
    r"""In-fill with an image-completion VAE's predictive mean (paper's VAE).

    The VAE must expose ``predictive_mean(masked_image, keep_mask) -> image``
    (keep-mask convention: 1 = observed), e.g.
    :class:`captum_fido.demo.models.CompletionVAE`, whose predictive mean
    decodes the prior mean ``z = 0`` given the observed pixels. Deterministic
    and honest.

    Args:
        vae (nn.Module): The completion VAE.
        fill_value (float, optional): Value of dropped pixels fed to it.
        internal_batch_size (int, optional): See :class:`ModuleInfiller`.

    Examples::

        >>> from captum_fido.demo.pretrained import load_vae_infiller
        >>> infiller = load_vae_infiller()           # a VAEInfiller
    """

    def __init__(
        self,
        vae: nn.Module,
        fill_value: float = 0.0,
        internal_batch_size: Optional[int] = None,
    ) -> None:
        if not callable(getattr(vae, "predictive_mean", None)):
            raise TypeError(
                "vae must have a predictive_mean(masked_image, keep_mask) method; "
                f"{type(vae).__name__} has none"
            )
        super().__init__(
            vae,
            mask_convention="keep",
            fill_value=fill_value,
            method="predictive_mean",
            internal_batch_size=internal_batch_size,
        )
