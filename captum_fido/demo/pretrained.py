r"""Load the demo's shipped, trained models (no training, no download).

The weights live in ``captum_fido/demo/weights/`` as state_dicts:

- ``classifier.pt``: :class:`~captum_fido.demo.models.SceneClassifier`,
- ``inpainter.pt``: :class:`~captum_fido.demo.inpainting.RefineUNet`, the
  learned refinement of the push-pull pyramid fill (the paper's CA-GAN
  role; :func:`load_inpainter_infiller` runs both stages, all in torch);
  ``inpainter_ns.pt`` is the first shipped one, refining OpenCV's
  Navier-Stokes fill on the CPU (kept to reproduce earlier results).
  Weights of the older :class:`~captum_fido.demo.models.InpaintingUNet`
  (its JSON has no ``architecture`` setting) still load,
- ``sampler.pt``: the same network with noise at two scales, fine-tuned to
  give a different plausible completion per draw
  (:func:`load_sampler_infiller`; trained by
  :func:`~captum_fido.demo.train_sampler.train_sampler`),
- ``vae.pt``: :class:`~captum_fido.demo.models.CompletionVAE`.
- ``explainer_scenes.pt``: :class:`~captum_fido.attr.MaskExplainerNet`, the
  amortised FIDO-SSR explainer of the scenes classifier
  (:func:`load_explainer`; trained by ``captum-fido train-explainer``).

Each has a ``.json`` summary beside it (training settings, losses, accuracy).

Examples::

    >>> from captum_fido.demo.pretrained import load_classifier
    >>> from captum_fido.demo.pretrained import load_inpainter_infiller
    >>> model = load_classifier()                  # eval mode
    >>> infiller = load_inpainter_infiller()       # a CoarseRefineInfiller
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, TypeVar, Union

import torch
from torch import nn

from captum_fido.attr import FIDO_DEFAULTS, MaskExplainerNet
from captum_fido.demo._training import WEIGHTS_DIR
from captum_fido.demo.inpainting import (
    CoarseRefineInfiller,
    RefineUNet,
    SamplingRefineInfiller,
)
from captum_fido.demo.models import CompletionVAE, InpaintingUNet, SceneClassifier
from captum_fido.infillers import Infiller, ModuleInfiller, VAEInfiller

__all__ = [
    "WEIGHTS_DIR",
    "load_classifier",
    "load_inpainter",
    "load_vae",
    "load_inpainter_infiller",
    "load_sampler_infiller",
    "load_vae_infiller",
    "load_explainer",
    "training_summary",
]

PathLike = Union[str, Path]
_M = TypeVar("_M", bound=nn.Module)


def _load(model: _M, path: Path) -> _M:
    if not path.is_file():
        raise FileNotFoundError(
            f"no weights at {path}; the package ships them in {WEIGHTS_DIR}, or "
            "train them with captum-fido train-classifier / train-inpainters"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _settings(path: Path) -> Dict[str, Any]:
    summary = path.with_suffix(".json")
    if summary.is_file():
        with open(summary) as fh:
            return json.load(fh).get("settings", {})
    return {}


def training_summary(name: str) -> Dict[str, Any]:
    r"""The JSON summary written next to ``weights/<name>.pt`` by training.

    Args:
        name (str): The weights' stem in the shipped folder: ``"classifier"``,
            ``"classifier_context"``, ``"inpainter"``, ``"sampler"``, ``"vae"`` or
            ``"explainer_scenes"``.

    Returns:
        dict, the parsed JSON: the training ``settings`` and what training
        recorded (losses, accuracies, seconds, ...).

    Examples::

        >>> summary = training_summary("classifier")
        >>> summary["settings"]["width"], summary["test_accuracy"] > 0.9
        (32, True)
    """
    path = WEIGHTS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no training summary at {path}")
    with open(path) as fh:
        return json.load(fh)


def load_classifier(path: Optional[PathLike] = None) -> SceneClassifier:
    r"""The trained scene classifier in eval mode (parameters frozen).

    Args:
        path (str or Path, optional): A state_dict to load instead of the
            shipped ``weights/classifier.pt``. Its width is read from the JSON
            summary beside it (default 32).

    Returns:
        :class:`~captum_fido.demo.models.SceneClassifier`

    Examples::

        >>> model = load_classifier()
        >>> model(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 6])
        >>> context = load_classifier(WEIGHTS_DIR / "classifier_context.pt")
    """
    p = Path(path) if path is not None else WEIGHTS_DIR / "classifier.pt"
    width = int(_settings(p).get("width", 32))
    return _load(SceneClassifier(width=width), p)


def load_inpainter(
    path: Optional[PathLike] = None,
) -> Union[RefineUNet, InpaintingUNet]:
    r"""The trained inpainter network in eval mode.

    A :class:`~captum_fido.demo.inpainting.RefineUNet` for the shipped
    weights (its JSON summary names the architecture); an
    :class:`~captum_fido.demo.models.InpaintingUNet` for older weights.
    Parameters are frozen.

    Args:
        path (str or Path, optional): A state_dict to load instead of the
            shipped ``weights/inpainter.pt``; the architecture and width come
            from the JSON summary beside it.

    Returns:
        :class:`~captum_fido.demo.inpainting.RefineUNet` or
        :class:`~captum_fido.demo.models.InpaintingUNet`, called as
        ``net(masked_image, keep_mask) -> completed``.

    Examples::

        >>> net = load_inpainter()
        >>> image = torch.rand(2, 3, 64, 64)
        >>> keep = (torch.rand(2, 1, 64, 64) > 0.5).float()
        >>> net(image * keep, keep).shape
        torch.Size([2, 3, 64, 64])
    """
    p = Path(path) if path is not None else WEIGHTS_DIR / "inpainter.pt"
    s = _settings(p)
    if s.get("architecture") == "RefineUNet":
        # Summaries before the pyramid stage existed name OpenCV's fill.
        coarse = str(s.get("coarse", "ns"))
        coarse = "ns" if coarse.startswith("observed_fill") else coarse
        net = RefineUNet(
            width=int(s.get("width", 24)),
            coarse=coarse,
            fold=int(s.get("fold", 2)),
            noise_channels=int(s.get("noise_channels", 0)),
        )
        return _load(net, p)
    return _load(InpaintingUNet(width=int(s.get("width", 16))), p)


def load_vae(path: Optional[PathLike] = None) -> CompletionVAE:
    r"""The trained completion VAE in eval mode (parameters frozen).

    Args:
        path (str or Path, optional): A state_dict to load instead of the
            shipped ``weights/vae.pt``; width and latent size come from the
            JSON summary beside it.

    Returns:
        :class:`~captum_fido.demo.models.CompletionVAE`

    Examples::

        >>> vae = load_vae()
        >>> image = torch.rand(1, 3, 64, 64)
        >>> keep = torch.zeros(1, 1, 64, 64)
        >>> keep[..., :32] = 1  # the left half observed, the right half filled
        >>> filled = vae(image * keep, keep)
        >>> bool(torch.allclose(filled[..., :32], image[..., :32]))  # kept as is
        True
    """
    p = Path(path) if path is not None else WEIGHTS_DIR / "vae.pt"
    s = _settings(p)
    vae = CompletionVAE(
        width=int(s.get("width", 16)), latent_dim=int(s.get("latent_dim", 32))
    )
    return _load(vae, p)


def load_inpainter_infiller(
    path: Optional[PathLike] = None, internal_batch_size: int = 256
) -> Infiller:
    r"""The shipped inpainter as an honest, deterministic infiller.

    For the shipped weights a
    :class:`~captum_fido.demo.inpainting.CoarseRefineInfiller`
    (pyramid coarse fill, learned refinement; ``WEIGHTS_DIR /
    "inpainter_ns.pt"`` gives the first one, on a Navier-Stokes fill); for older
    :class:`~captum_fido.demo.models.InpaintingUNet` weights a
    :class:`~captum_fido.infillers.ModuleInfiller`.

    Args:
        path (str or Path, optional): Weights to load instead of the shipped
            ``weights/inpainter.pt``.
        internal_batch_size (int, optional): Images per network call.
            Default 256.

    Returns:
        :class:`~captum_fido.infillers.Infiller`

    Examples::

        >>> infiller = load_inpainter_infiller()
        >>> x = torch.rand(1, 3, 64, 64)
        >>> keep = (torch.rand(1, 1, 64, 64) > 0.5).float()
        >>> other = x * keep + torch.rand_like(x) * (1 - keep)  # other holes
        >>> torch.equal(infiller(x, keep), infiller(other, keep))  # honest
        True
    """
    net = load_inpainter(path)
    if isinstance(net, RefineUNet):
        return CoarseRefineInfiller(net, internal_batch_size=internal_batch_size)
    return ModuleInfiller(
        net, mask_convention="keep", internal_batch_size=internal_batch_size
    )


def load_sampler_infiller(
    path: Optional[PathLike] = None, internal_batch_size: int = 256
) -> SamplingRefineInfiller:
    r"""The shipped sampling in-painter as an honest, stochastic infiller.

    The deterministic in-painter's network with noise at two scales,
    fine-tuned so that each draw is another plausible completion
    (:func:`~captum_fido.demo.train_sampler.train_sampler`). Use it with
    FIDO's ``n_infills`` to average the class probability over several
    fills of each mask (the paper's marginalisation, its Eq. 1).

    Args:
        path (str or Path, optional): Weights to load instead of the shipped
            ``weights/sampler.pt`` (the JSON summary beside them gives the
            architecture).
        internal_batch_size (int, optional): Images per network call.
            Default 256.

    Returns:
        :class:`~captum_fido.demo.inpainting.SamplingRefineInfiller`

    Examples::

        >>> infiller = load_sampler_infiller()
        >>> x = torch.rand(2, 3, 64, 64)
        >>> keep = (torch.rand(2, 1, 64, 64) > 0.5).float()
        >>> g = torch.Generator().manual_seed(0)
        >>> infiller(x, keep, g).shape
        torch.Size([2, 3, 64, 64])
    """
    net = load_inpainter(Path(path) if path is not None else WEIGHTS_DIR / "sampler.pt")
    if not isinstance(net, RefineUNet) or not net.noise_channels:
        raise ValueError(f"path {path} does not hold a sampling in-painter")
    return SamplingRefineInfiller(net, internal_batch_size=internal_batch_size)


def load_vae_infiller(path: Optional[PathLike] = None) -> VAEInfiller:
    r"""The shipped completion VAE as a :class:`VAEInfiller` (predictive mean).

    Args:
        path (str or Path, optional): Weights to load instead of the shipped
            ``weights/vae.pt`` (see :func:`load_vae`).

    Returns:
        :class:`~captum_fido.infillers.VAEInfiller`

    Examples::

        >>> infiller = load_vae_infiller()
        >>> infiller.stochastic, infiller.honest  # the mean: one fill per mask
        (False, True)
    """
    return VAEInfiller(load_vae(path))


def load_explainer(path: Optional[PathLike] = None) -> MaskExplainerNet:
    r"""The amortised FIDO-SSR explainer of the scenes classifier, in eval
    mode, with the objective options it was trained with (from its JSON).

    Args:
        path (str or Path, optional): Weights to load instead of the shipped
            ``weights/explainer_scenes.pt`` (a JSON summary must sit beside).

    Returns:
        :class:`~captum_fido.attr.MaskExplainerNet`, with parameters frozen.

    Examples::

        >>> net = load_explainer()
        >>> net(torch.rand(2, 3, 64, 64), torch.tensor([0, 3])).shape
        torch.Size([2, 1, 16, 16])
    """
    p = Path(path) if path is not None else WEIGHTS_DIR / "explainer_scenes.pt"
    s = _settings(p)
    if s.get("architecture") != "MaskExplainerNet":
        raise FileNotFoundError(f"no MaskExplainerNet summary next to {p}")
    options = FIDO_DEFAULTS.replace(
        n_samples=int(s["n_samples"]),
        l1_coeff=float(s["l1_coeff"]),
        tv_coeff=float(s["tv_coeff"]),
        temperature=float(s["temperature"]),
    )
    net = MaskExplainerNet(
        int(s["n_classes"]),
        int(s["in_channels"]),
        int(s["width"]),
        str(s["objective"]),
        options,
    )
    return _load(net, p)
