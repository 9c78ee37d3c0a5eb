r"""A registry of the demo domains: scenes with ground-truth boxes and a
trained classifier each.

Two domains, which differ in what the background tells about the class:

- ``"scenes"``: the default scene variant. Backgrounds are drawn independently
  of the class (they carry no label information); objects are large (radius
  14-28 % of the side). The evidence is the object.
- ``"context"``: the context scene variant. With probability 0.8 the
  background comes from the class's own family of pictures, and objects are
  half the size. The background alone predicts the class most of the time.

Each :class:`Domain` loads its test scenes with boxes, its shipped classifier
and the layer to give Captum's ``LayerGradCam``. :func:`reliance_accuracies`
measures how much a domain's classifier uses the object versus the
background; ``captum-fido domains`` prints that table (as in
``docs/domains.md``). :func:`comparison_data` is what ``captum-fido compare``
scores.

Examples::

    >>> from captum_fido.demo.domains import DOMAINS, load_domain
    >>> sorted(DOMAINS)
    ['context', 'scenes']
    >>> domain = load_domain("context")
    >>> images, labels, boxes = domain.load_split("test", 8)
    >>> images.shape, boxes.shape
    (torch.Size([8, 3, 64, 64]), torch.Size([8, 4]))
    >>> model = domain.load_classifier()
    >>> layer = domain.gradcam_layer(model)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from captum_fido.demo._training import WEIGHTS_DIR
from captum_fido.demo.scenes import (
    CLASSES,
    make_scene,
    object_on_grey,
    scene_seed,
)
from captum_fido.demo.scenes import load_split as _load_scene_split

if TYPE_CHECKING:
    from captum_fido.evaluation import EvalData
    from captum_fido.infillers import Infiller

__all__ = [
    "Domain",
    "DOMAINS",
    "load_domain",
    "reliance_accuracies",
    "comparison_data",
    "VAL_ID_OFFSET",
]


@dataclass(frozen=True)
class Domain:
    r"""One demo domain: a scene variant and its trained classifier.

    Attributes:
        name: the registry key.
        description: one line on what makes the domain what it is.
        classes: class names, in label order.
        variant: the :mod:`~captum_fido.demo.scenes` generator variant.
        weights: the classifier's state_dict file.
        inpainter: the in-painter's state_dict file (its JSON summary
            beside it), the "Inpainter" in-filler of :meth:`infillers`;
            ``None``: the shipped ``weights/inpainter.pt``.

    Examples::

        >>> d = load_domain("scenes")
        >>> d.classes[:2]
        ('circle', 'square')
    """

    name: str
    description: str
    classes: Tuple[str, ...]
    variant: str
    weights: Path
    inpainter: Optional[Path] = None

    def load_split(
        self, split: str, n: int, offset: int = 0
    ) -> Tuple[Tensor, Tensor, Tensor]:
        r"""Scenes ``offset .. offset + n - 1`` of ``split`` with their boxes.

        Args:
            split (str): ``"train"``, ``"val"`` or ``"test"``.
            n (int): How many scenes (>= 1).
            offset (int, optional): Index of the first scene. Default 0.

        Returns:
            ``(images, labels, boxes)``: images ``(n, 3, 64, 64)`` float32 in
            ``[0, 1]``, labels ``(n,)`` long, boxes ``(n, 4)`` float32
            ``(x0, y0, x1, y1)`` in pixels (torchvision's convention;
            ``x1``/``y1`` exclusive: the box covers pixel columns
            ``x0 .. x1 - 1``).

        Examples::

            >>> images, labels, boxes = load_domain("scenes").load_split("val", 2)
            >>> boxes.dtype
            torch.float32
        """
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise TypeError(f"offset must be an int, got {type(offset).__name__}")
        images, labels, _, _, boxes = _load_scene_split(
            split, n, offset=offset, with_details=True, variant=self.variant
        )
        return images, labels, boxes.to(torch.float32)

    def load_classifier(self) -> nn.Module:
        r"""The domain's shipped classifier, in eval mode with frozen parameters.

        Returns:
            :class:`~captum_fido.demo.models.SceneClassifier`

        Examples::

            >>> model = load_domain("context").load_classifier()
            >>> model.training
            False
        """
        from captum_fido.demo.pretrained import load_classifier

        return load_classifier(self.weights)

    def infillers(self) -> Dict[str, Infiller]:
        r"""The in-fillers the comparison harness runs on this domain: the
        paper's heuristics at 64 px, the VAE and the domain's in-painter
        (:func:`~captum_fido.demo.infillers.demo_infillers`).

        Returns:
            dict: name -> :class:`~captum_fido.infillers.Infiller`.

        Examples::

            >>> sorted(load_domain("context").infillers())
            ['Blur', 'Inpainter', 'Local', 'Mean', 'Random', 'VAE']
        """
        from captum_fido.demo.infillers import demo_infillers

        return demo_infillers(inpainter=self.inpainter)

    def gradcam_layer(self, model: nn.Module) -> nn.Module:
        r"""The layer of ``model`` to give Captum's ``LayerGradCam``.

        Args:
            model (nn.Module): A classifier from :meth:`load_classifier`.

        Returns:
            ``model.last_conv``, the last conv block (1/8 resolution).

        Examples::

            >>> d = load_domain("scenes")
            >>> model = d.load_classifier()
            >>> d.gradcam_layer(model) is model.last_conv
            True
        """
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        layer = getattr(model, "last_conv", None)
        if not isinstance(layer, nn.Module):
            raise TypeError(
                f"model must have a last_conv layer (a SceneClassifier), got "
                f"{type(model).__name__}"
            )
        return layer


#: Registry: domain name -> :class:`Domain`.
DOMAINS: Dict[str, Domain] = {
    "scenes": Domain(
        name="scenes",
        description=(
            "One large shape on a photo/texture crop with clutter; the "
            "background is independent of the class (uninformative)."
        ),
        classes=CLASSES,
        variant="default",
        weights=WEIGHTS_DIR / "classifier.pt",
    ),
    "context": Domain(
        name="context",
        description=(
            "One half-size shape with clutter on a background that comes from "
            "the class's own picture family with probability 0.8 (informative)."
        ),
        classes=CLASSES,
        variant="context",
        weights=WEIGHTS_DIR / "classifier_context.pt",
    ),
}


def load_domain(name: str) -> Domain:
    r"""The registered domain called ``name``.

    Args:
        name (str): A key of :data:`DOMAINS` (``"scenes"`` or ``"context"``).

    Returns:
        :class:`Domain`

    Examples::

        >>> load_domain("context").variant
        'context'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in DOMAINS:
        raise ValueError(
            f"unknown domain name {name!r}; known domains: {sorted(DOMAINS)}"
        )
    return DOMAINS[name]


#: Validation images of :func:`comparison_data` get ids from here, so the
#: lowest ids are test images.
VAL_ID_OFFSET = 1_000_000


def comparison_data(domain: Domain, n_test: int, n_val: int) -> EvalData:
    r"""The images ``captum-fido compare`` scores on ``domain``.

    Validation images first (ids from :data:`VAL_ID_OFFSET`), then test
    images (ids from 0): a run stopped early already has what chooses the
    WSL thresholds.

    Args:
        domain (Domain): The demo domain.
        n_test (int): Test images, ``>= 0``.
        n_val (int): Validation images, ``>= 0``; at least one of the two
            must be positive.

    Returns:
        :class:`~captum_fido.evaluation.EvalData` with splits ``"val"`` and
        ``"test"``.

    Examples::

        >>> data = comparison_data(load_domain("scenes"), n_test=4, n_val=2)
        >>> data.image_ids
        [1000000, 1000001, 0, 1, 2, 3]
    """
    from captum_fido.evaluation import EvalData

    parts = []
    for split, n, first_id in (("val", n_val, VAL_ID_OFFSET), ("test", n_test, 0)):
        if n > 0:
            images, labels, boxes = domain.load_split(split, n)
            ids = [first_id + i for i in range(n)]
            parts.append((images, labels, boxes, ids, [split] * n))
    if not parts:
        raise ValueError(f"n_test and n_val must not both be 0, got {n_test}, {n_val}")
    return EvalData(
        torch.cat([p[0] for p in parts]),
        torch.cat([p[1] for p in parts]),
        torch.cat([p[2] for p in parts]),
        [i for p in parts for i in p[3]],
        [s for p in parts for s in p[4]],
    )


def _to_chw(images: List[np.ndarray]) -> Tensor:
    return torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy())


@torch.no_grad()
def _accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 100) -> float:
    preds = [
        model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)
    ]
    return float((torch.cat(preds) == y).float().mean())


def reliance_accuracies(
    name: str,
    n: int = 300,
    split: str = "test",
    offset: int = 0,
    model: Optional[nn.Module] = None,
    grey: float = 0.5,
) -> Dict[str, float]:
    r"""How much a domain's classifier relies on the object versus the background.

    Accuracy on ``n`` scenes of the domain's own variant, shown three ways:
    the clean scene, the object alone pasted onto uniform grey
    (:func:`~captum_fido.demo.scenes.object_on_grey`: no background, no
    clutter), and the background plate alone (clutter kept, object removed).

    Args:
        name (str): Domain name (see :data:`DOMAINS`).
        n (int, optional): Number of scenes. Default 300.
        split (str, optional): Split to draw them from. Default ``"test"``.
        offset (int, optional): Index of the first scene. Default 0.
        model (nn.Module, optional): Classifier to measure; default the
            domain's shipped one.
        grey (float, optional): Grey level of the object-only background.

    Returns:
        dict with ``clean``, ``object_only`` and ``background_only``
        accuracies, and ``n``.

    Examples::

        >>> acc = reliance_accuracies("context", n=30)
        >>> sorted(acc)
        ['background_only', 'clean', 'n', 'object_only']
    """
    domain = load_domain(name)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if model is None:
        model = domain.load_classifier()
    elif not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    model.eval()
    clean, obj, bg, labels = [], [], [], []
    for i in range(n):
        seed = scene_seed(split, offset + i, domain.variant)
        s = make_scene(seed, variant=domain.variant)
        clean.append(s.image)
        obj.append(object_on_grey(s, grey))
        bg.append(s.background)
        labels.append(s.label)
    y = torch.tensor(labels, dtype=torch.long)
    return {
        "clean": _accuracy(model, _to_chw(clean), y),
        "object_only": _accuracy(model, _to_chw(obj), y),
        "background_only": _accuracy(model, _to_chw(bg), y),
        "n": float(n),
    }


if __name__ == "__main__":  # the command moved to captum_fido.cli
    raise SystemExit("run `captum-fido domains`")
