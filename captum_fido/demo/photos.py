r"""Explain real photographs with your own torchvision classifier.

The same code runs with an untrained network (``weights=None``, what the
tests use) and with downloaded ImageNet weights (what users run)::

    import torchvision
    from skimage.data import chelsea
    from captum_fido.demo.photos import explain_photo

    model = torchvision.models.resnet50(weights="IMAGENET1K_V2")  # downloads
    result = explain_photo(chelsea(), model)        # target: the top class
    result.attribution          # (224, 224) numpy map in [0, 1]
    result.save_figure("chelsea_fido.png")

FIDO works in pixel space (``[0, 1]`` RGB after resizing and cropping) and
the ImageNet normalisation is folded into the model
(:class:`NormalizedClassifier`), so infillers see and produce plain pixels.
The default infiller is the paper's Gaussian blur (sigma 10); pass a
:class:`~captum_fido.infillers.ModuleInfiller` around your own inpainting
network (LaMa, a CA-GAN, ...) for the paper's FIDO-CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

from captum_fido._utils.files import save_figure_atomic

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "NormalizedClassifier",
    "photo_to_tensor",
    "PhotoExplanation",
    "explain_photo",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class NormalizedClassifier(nn.Module):
    r"""Wrap a classifier that expects normalised input so it takes ``[0, 1]`` RGB.

    Args:
        model (nn.Module): The classifier (e.g. a torchvision ResNet).
        mean (sequence of float, optional): Per-channel mean of its
            normalisation. Default :data:`IMAGENET_MEAN`.
        std (sequence of float, optional): Per-channel std of its
            normalisation. Default :data:`IMAGENET_STD`.

    Examples::

        >>> import torchvision
        >>> resnet = torchvision.models.resnet18(weights=None).eval()
        >>> model = NormalizedClassifier(resnet)
        >>> model(torch.rand(1, 3, 224, 224)).shape
        torch.Size([1, 1000])
    """

    def __init__(
        self,
        model: nn.Module,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ValueError("mean and std must have equal length and std > 0")
        self.model = model
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32)[:, None, None]
        )
        self.register_buffer(
            "std", torch.tensor(std, dtype=torch.float32)[:, None, None]
        )

    mean: Tensor
    std: Tensor

    def forward(self, x: Tensor) -> Tensor:
        return self.model((x - self.mean.to(x)) / self.std.to(x))


def photo_to_tensor(image: Any, size: int = 224) -> Tensor:
    r"""Turn a photo into a ``(1, 3, size, size)`` tensor in ``[0, 1]``.

    The photo may be a numpy ``HxW``/``HxWx3`` array (uint8, or float in
    ``[0, 1]``), a PIL image, or a ``3xHxW`` tensor in ``[0, 1]``.

    Uses torchvision's ``Resize(round(size * 256 / 224))`` then
    ``CenterCrop(size)``, the ImageNet evaluation transform, without
    normalisation. Values end in ``[0, 1]``.

    Args:
        image (numpy array, PIL image or Tensor): The photo, as above.
        size (int, optional): Side of the centre crop (>= 8). Default 224.

    Returns:
        ``(1, 3, size, size)`` float32 tensor in ``[0, 1]``.

    Examples::

        >>> from skimage.data import chelsea
        >>> x = photo_to_tensor(chelsea())
        >>> x.shape
        torch.Size([1, 3, 224, 224])
        >>> photo_to_tensor(torch.rand(3, 100, 150), size=64).shape
        torch.Size([1, 3, 64, 64])
    """
    from torchvision.transforms import v2 as T

    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = np.stack([image] * 3, -1)
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise ValueError(
                f"image must be HxW, HxWx3 or HxWx4, got shape {image.shape}"
            )
        arr = image[..., :3]
        t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)
        t = t.float() / 255.0 if arr.dtype == np.uint8 else t.float()
    elif isinstance(image, Tensor):
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f"tensor image must be 3xHxW, got {tuple(image.shape)}")
        t = image.float()
    else:
        try:
            from PIL import Image
        except ImportError as err:  # pragma: no cover
            raise TypeError("image must be a numpy array or tensor") from err
        if not isinstance(image, Image.Image):
            raise TypeError(
                "image must be a numpy array, a PIL image or a 3xHxW tensor, "
                f"got {type(image).__name__}"
            )
        t = T.functional.pil_to_tensor(image.convert("RGB")).float() / 255.0
    if not bool(torch.isfinite(t).all()) or t.min() < 0 or t.max() > 1:
        raise ValueError("image values must be finite and in [0, 1] (or uint8)")
    transform = T.Compose(
        [T.Resize(round(size * 256 / 224), antialias=True), T.CenterCrop(size)]
    )
    return transform(t)[None].clamp(0, 1).contiguous()


@dataclass
class PhotoExplanation:
    r"""What :func:`explain_photo` returns.

    Attributes:
        image: ``(3, S, S)`` the resized, cropped photo in ``[0, 1]``.
        attribution: ``(S, S)`` FIDO's map in ``[0, 1]`` (keep probability
            for SSR, drop probability for SDR).
        target: The explained class.
        probability: The classifier's confidence in ``target`` on the photo.
        details: FIDO's :class:`~captum_fido.MaskOptimizationDetails`.

    Examples::

        >>> import torchvision
        >>> from skimage.data import chelsea
        >>> model = torchvision.models.resnet18(weights=None)
        >>> res = explain_photo(chelsea(), model, size=64, n_steps=5)
        >>> res.image.shape, res.attribution.shape
        (torch.Size([3, 64, 64]), (64, 64))
        >>> res.save_figure("outputs/chelsea_fido.png")
        PosixPath('outputs/chelsea_fido.png')
    """

    image: Tensor
    attribution: np.ndarray
    target: int
    probability: float
    details: Any

    def save_figure(self, path: Union[str, Path]) -> Path:
        r"""Write photo, map and the first counterfactuals side by side."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cfs = self.details.counterfactuals[0][0]
        probs = self.details.counterfactual_probs[0]
        n = 2 + cfs.shape[0]
        fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.8))
        axes[0].imshow(self.image.permute(1, 2, 0).numpy())
        axes[0].set_title(f"class {self.target} p={self.probability:.2f}", fontsize=8)
        axes[1].imshow(self.attribution, cmap="jet", vmin=0, vmax=1)
        axes[1].set_title(f"FIDO-{self.details.objective.upper()}", fontsize=8)
        for k in range(cfs.shape[0]):
            axes[2 + k].imshow(cfs[k].permute(1, 2, 0).clamp(0, 1).numpy())
            axes[2 + k].set_title(f"counterfactual p={float(probs[k]):.2f}", fontsize=8)
        for ax in axes:
            ax.axis("off")
        fig.tight_layout()
        path = Path(path)
        save_figure_atomic(fig, path, dpi=100, close=True)
        return path


def explain_photo(
    image: Any,
    model: nn.Module,
    target: Optional[int] = None,
    infiller: Optional[Any] = None,
    objective: str = "ssr",
    size: int = 224,
    mean: Optional[Sequence[float]] = IMAGENET_MEAN,
    std: Optional[Sequence[float]] = IMAGENET_STD,
    n_steps: int = 300,
    n_samples: int = 8,
    seed: int = 0,
    show_progress: bool = False,
    **fido_kwargs: Any,
) -> PhotoExplanation:
    r"""Explain a photograph's classification with FIDO.

    Args:
        image: The photo: numpy ``HxWx3`` (uint8 or float in ``[0, 1]``), a
            PIL image, or a ``3xHxW`` tensor in ``[0, 1]``.
        model (nn.Module): A classifier returning logits, e.g.
            ``torchvision.models.resnet50(weights=...)``. It is put in eval
            mode for the call and restored afterwards.
        target (int, optional): Class to explain. Default: the top class.
        infiller (Infiller, optional): Default ``BlurInfiller(sigma=10)``.
        objective (str, optional): ``"ssr"`` (default) or ``"sdr"``.
        size (int, optional): Side of the centre crop. Default 224.
        mean, std (sequence of float, optional): The model's input
            normalisation (ImageNet's by default); ``None`` for models that
            take ``[0, 1]`` pixels.
        n_steps, n_samples, seed, show_progress: Passed to
            :meth:`FIDO.attribute`, as is any further keyword argument.

    Returns:
        :class:`PhotoExplanation`

    Examples::

        >>> import torchvision
        >>> from skimage.data import chelsea
        >>> model = torchvision.models.resnet18(weights=None)
        >>> res = explain_photo(chelsea(), model, size=64, n_steps=5)
        >>> res.attribution.shape
        (64, 64)
    """
    from captum_fido import FIDO
    from captum_fido.infillers import BlurInfiller

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std, or neither")
    x = photo_to_tensor(image, size)
    wrapped = (
        model if mean is None or std is None else NormalizedClassifier(model, mean, std)
    )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probs = wrapped(x).softmax(1)[0]
        if target is None:
            target = int(probs.argmax())
        elif not 0 <= int(target) < probs.shape[0]:
            raise ValueError(f"target must be in [0, {probs.shape[0]}), got {target!r}")
        fido = FIDO(wrapped, infiller or BlurInfiller(sigma=10.0), objective=objective)
        attr, details = fido.attribute(
            x,
            target=int(target),
            n_steps=n_steps,
            n_samples=n_samples,
            seed=seed,
            return_details=True,
            show_progress=show_progress,
            **fido_kwargs,
        )
    finally:
        model.train(was_training)
    return PhotoExplanation(
        image=x[0],
        attribution=attr[0, 0].detach().numpy(),
        target=int(target),
        probability=float(probs[int(target)]),
        details=details,
    )
