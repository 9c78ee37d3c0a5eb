r"""Load the demo's shipped, trained models (no training, no download).

The weights live in ``captum_fido/demo/weights/`` as state_dicts:

- ``classifier.pt``: :class:`~captum_fido.demo.models.SceneClassifier`,
- ``inpainter.pt``: :class:`~captum_fido.demo.models.InpaintingUNet`
  (the GAN inpainter, the paper's CA-GAN role),
- ``vae.pt``: :class:`~captum_fido.demo.models.CompletionVAE`.

Each has a ``.json`` summary beside it (training settings, losses, accuracy).

Examples::

    >>> from captum_fido.demo.pretrained import load_classifier
    >>> from captum_fido.demo.pretrained import load_inpainter_infiller
    >>> model = load_classifier()                  # eval mode
    >>> infiller = load_inpainter_infiller()       # a ModuleInfiller
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from torch import nn

from captum_fido.demo._training import WEIGHTS_DIR
from captum_fido.demo.models import CompletionVAE, InpaintingUNet, SceneClassifier
from captum_fido.infillers.module import ModuleInfiller, VAEInfiller

__all__ = [
    "WEIGHTS_DIR",
    "load_classifier",
    "load_inpainter",
    "load_vae",
    "load_inpainter_infiller",
    "load_vae_infiller",
    "training_summary",
]

PathLike = Union[str, Path]


def _load(model: nn.Module, path: Path) -> nn.Module:
    if not path.is_file():
        raise FileNotFoundError(
            f"no weights at {path}; the package ships them in {WEIGHTS_DIR}, or "
            "train them with python -m captum_fido.demo.train_classifier / "
            "train_inpainters"
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
    r"""The JSON summary written next to ``weights/<name>.pt`` by training."""
    path = WEIGHTS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no training summary at {path}")
    with open(path) as fh:
        return json.load(fh)


def load_classifier(path: Optional[PathLike] = None) -> SceneClassifier:
    r"""The trained scene classifier in eval mode (parameters frozen).

    Args:
        path (str or Path, optional): A state_dict to load instead of the
            shipped ``weights/classifier.pt``.
    """
    p = Path(path) if path is not None else WEIGHTS_DIR / "classifier.pt"
    width = int(_settings(p).get("width", 32))
    return _load(SceneClassifier(width=width), p)


def load_inpainter(path: Optional[PathLike] = None) -> InpaintingUNet:
    r"""The trained gated-convolution inpainter in eval mode."""
    p = Path(path) if path is not None else WEIGHTS_DIR / "inpainter.pt"
    width = int(_settings(p).get("width", 16))
    return _load(InpaintingUNet(width=width), p)


def load_vae(path: Optional[PathLike] = None) -> CompletionVAE:
    r"""The trained completion VAE in eval mode."""
    p = Path(path) if path is not None else WEIGHTS_DIR / "vae.pt"
    s = _settings(p)
    vae = CompletionVAE(
        width=int(s.get("width", 16)), latent_dim=int(s.get("latent_dim", 32))
    )
    return _load(vae, p)


def load_inpainter_infiller(path: Optional[PathLike] = None) -> ModuleInfiller:
    r"""The shipped inpainter wrapped as an honest, deterministic infiller."""
    return ModuleInfiller(load_inpainter(path), mask_convention="keep")


def load_vae_infiller(path: Optional[PathLike] = None) -> VAEInfiller:
    r"""The shipped completion VAE as a :class:`VAEInfiller` (predictive mean)."""
    return VAEInfiller(load_vae(path))
