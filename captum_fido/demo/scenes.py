r"""Synthetic scenes with ground truth: one object on a real-photo background.

Every scene is a ``size x size`` RGB image (64 x 64 by default, values in
``[0, 1]``) holding exactly one object of one of :data:`CLASSES` (a filled
shape with random size, position, colour, shading and rotation) on a random
crop of a photograph or texture that scikit-image ships, with small clutter
(strokes and dots) drawn under the object. Each scene comes with

- ``label``: the object's class index,
- ``box``: the object's tight bounding box ``(x0, y0, x1, y1)`` in pixels,
  ``x1``/``y1`` exclusive,
- ``mask``: the object's pixel mask ``(H, W)`` (bool),
- ``background``: the same scene without the object (the "clean plate"),
  which is what a good in-filler should produce where the object is dropped.

A scene is a pure function of its integer seed. The splits are fixed seed
ranges (:data:`SPLITS`), so train, validation and test never share a scene.

Two variants (:data:`VARIANTS`) of the generator exist:

- ``"default"``: the background is drawn uniformly from all the pictures,
  independently of the class, so it tells nothing about the label; objects
  have a radius of 14-28 % of the image side.
- ``"context"``: the background is informative and objects are small. With
  probability :data:`CONTEXT_OWN_PROBABILITY` (0.8) the background crop comes
  from the class's own family of two pictures
  (:data:`CONTEXT_FAMILIES`), otherwise from any picture; objects have half
  the default radius (7-14 % of the side). Clutter is unchanged. Its splits
  use their own seed ranges (:data:`VARIANT_SPLITS`).

The default variant's scenes do not depend on the existence of the other.

Examples::

    >>> from captum_fido.demo.scenes import make_scene, load_split
    >>> scene = make_scene(7)
    >>> scene.image.shape, scene.label, scene.box
    ((64, 64, 3), ..., (...))
    >>> images, labels = load_split("test", 16)
    >>> images.shape
    torch.Size([16, 3, 64, 64])
    >>> small = make_scene(7, variant="context")  # informative background
    >>> images, labels = load_split("test", 16, variant="context")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from captum_fido._utils import validation as V
from captum_fido.demo._scene_drawing import (
    BACKGROUNDS,
    draw_clutter,
    object_alpha,
    object_colour,
    random_background,
)

__all__ = [
    "CLASSES",
    "SPLITS",
    "VARIANTS",
    "VARIANT_SPLITS",
    "CONTEXT_FAMILIES",
    "CONTEXT_OWN_PROBABILITY",
    "CONTEXT_SIZE_SCALE",
    "Scene",
    "make_scene",
    "scene_seed",
    "load_split",
    "SceneDataset",
    "background_names",
    "object_on_grey",
]

#: Object classes, in label order.
CLASSES: Tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")

#: Split name -> (first seed, number of scenes). Ranges never overlap.
SPLITS: Dict[str, Tuple[int, int]] = {
    "train": (0, 1_000_000),
    "val": (1_000_000, 100_000),
    "test": (2_000_000, 100_000),
}

#: Scene variants of :func:`make_scene`.
VARIANTS: Tuple[str, ...] = ("default", "context")

#: Variant -> split name -> (first seed, number of scenes). The context
#: variant's ranges overlap neither each other nor the default ones.
VARIANT_SPLITS: Dict[str, Dict[str, Tuple[int, int]]] = {
    "default": SPLITS,
    "context": {
        "train": (10_000_000, 1_000_000),
        "val": (11_000_000, 100_000),
        "test": (12_000_000, 100_000),
    },
}

#: Context variant: class name -> its own background family (two pictures
#: each; ``camera`` and ``coins`` belong to no class).
CONTEXT_FAMILIES: Dict[str, Tuple[str, str]] = {
    "circle": ("grass", "gravel"),
    "square": ("brick", "page"),
    "triangle": ("coffee", "chelsea"),
    "star": ("hubble_deep_field", "moon"),
    "cross": ("immunohistochemistry", "retina"),
    "ring": ("astronaut", "rocket"),
}

#: Context variant: probability that the background comes from the class's
#: own family (otherwise: uniformly from all pictures, own family included).
CONTEXT_OWN_PROBABILITY: float = 0.8

#: Context variant: object radius relative to the default variant's.
CONTEXT_SIZE_SCALE: float = 0.5


@dataclass(frozen=True)
class Scene:
    r"""One generated scene (numpy arrays, ``float32`` images in ``[0, 1]``).

    Attributes:
        image: ``(H, W, 3)`` the scene.
        background: ``(H, W, 3)`` the scene without its object.
        mask: ``(H, W)`` bool, the object's pixels.
        alpha: ``(H, W)`` float, the object's anti-aliased coverage.
        box: ``(x0, y0, x1, y1)`` tight box of ``mask``; ``x1``, ``y1``
            exclusive.
        label: class index into :data:`CLASSES`.
        seed: the seed the scene was made from.
        background_name: which scikit-image picture the background comes from.
        variant: the generator variant, one of :data:`VARIANTS`.

    Examples::

        >>> scene = make_scene(scene_seed("test", 0))
        >>> scene.image.shape, scene.mask.shape
        ((64, 64, 3), (64, 64))
        >>> scene.background_name in background_names()
        True
    """

    image: np.ndarray
    background: np.ndarray
    mask: np.ndarray
    alpha: np.ndarray
    box: Tuple[int, int, int, int]
    label: int
    seed: int
    background_name: str
    variant: str = "default"


def background_names() -> Tuple[str, ...]:
    r"""Names of the scikit-image pictures used as backgrounds.

    Returns:
        tuple of str, the ``skimage.data`` picture names, in the order the
        default variant draws from.

    Examples::

        >>> names = background_names()
        >>> "brick" in names, len(names)
        (True, 14)
    """
    return BACKGROUNDS


def _check_variant(variant: object) -> str:
    return str(V.check_choice(variant, "variant", list(VARIANTS), text=True))


def _splits(split: str, variant: str) -> Dict[str, Tuple[int, int]]:
    splits = VARIANT_SPLITS[_check_variant(variant)]
    V.check_choice(split, "split", sorted(splits))
    return splits


def scene_seed(split: str, index: int, variant: str = "default") -> int:
    r"""The seed of scene ``index`` of ``split`` of a generator variant.

    Args:
        split (str): ``"train"``, ``"val"`` or ``"test"``.
        index (int): Index of the scene in the split.
        variant (str, optional): One of :data:`VARIANTS`; each variant has its
            own seed ranges (:data:`VARIANT_SPLITS`). Default ``"default"``.

    Returns:
        int, the seed to give :func:`make_scene` (with the same ``variant``).

    Examples::

        >>> scene_seed("test", 5)
        2000005
        >>> scene_seed("test", 5, variant="context")
        12000005
    """
    start, count = _splits(split, variant)[split]
    if not 0 <= int(index) < count:
        raise ValueError(f"index must be in [0, {count}) for split {split!r}")
    return start + int(index)


def _context_background_name(rng: np.random.Generator, label: int) -> str:
    if rng.random() < CONTEXT_OWN_PROBABILITY:
        family = CONTEXT_FAMILIES[CLASSES[label]]
        return family[int(rng.integers(len(family)))]
    return BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]


def make_scene(
    seed: int,
    size: int = 64,
    label: Optional[int] = None,
    variant: str = "default",
) -> Scene:
    r"""Generate the scene of ``seed``.

    Args:
        seed (int): Any non-negative integer; the same seed always gives the
            same scene. Use :func:`scene_seed` for the split's seeds.
        size (int, optional): Side of the square image in pixels (>= 32).
        label (int, optional): Force the object's class. Default: drawn from
            the seed, uniformly over :data:`CLASSES`. In the ``"context"``
            variant the background family follows the forced class.
        variant (str, optional): ``"default"`` (background independent of
            the class) or ``"context"`` (background mostly from the class's
            own family, objects half the size); see the module docstring.
            Default ``"default"``.

    Returns:
        :class:`Scene`

    Examples::

        >>> scene = make_scene(12_000_000, variant="context")
        >>> scene.background_name in CONTEXT_FAMILIES[CLASSES[scene.label]]
        True
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(size, int) or size < 32:
        raise ValueError(f"size must be an int >= 32, got {size!r}")
    variant = _check_variant(variant)
    rng = np.random.default_rng(int(seed))
    drawn = int(rng.integers(len(CLASSES)))
    if label is None:
        label = drawn
    elif not 0 <= int(label) < len(CLASSES):
        raise ValueError(f"label must be in [0, {len(CLASSES)}), got {label!r}")
    if variant == "context":
        name = _context_background_name(rng, int(label))
        background, bg_name = random_background(rng, size, name)
        draw_clutter(rng, background)
        alpha = object_alpha(rng, CLASSES[int(label)], size, CONTEXT_SIZE_SCALE)
    else:
        background, bg_name = random_background(rng, size)
        draw_clutter(rng, background)
        alpha = object_alpha(rng, CLASSES[int(label)], size)
    paint = object_colour(rng, background, alpha)
    a = alpha[..., None]
    image = background * (1 - a) + paint * a
    mask = alpha >= 0.5
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return Scene(
        image=np.ascontiguousarray(image, dtype=np.float32),
        background=background,
        mask=mask,
        alpha=alpha,
        box=box,
        label=int(label),
        seed=int(seed),
        background_name=bg_name,
        variant=variant,
    )


def object_on_grey(scene: Scene, grey: float = 0.5) -> np.ndarray:
    r"""The scene's object alone, composited on a uniform grey background.

    The object's paint is recovered exactly from the scene and its clean plate
    (``image = background * (1 - alpha) + paint * alpha``), so clutter and
    background are gone and only the object's own pixels remain.

    Args:
        scene (Scene): A scene from :func:`make_scene`.
        grey (float, optional): Grey level in ``[0, 1]``. Default 0.5.

    Returns:
        ``(H, W, 3)`` float32 array in ``[0, 1]``.

    Examples::

        >>> img = object_on_grey(make_scene(3))
        >>> img.shape
        (64, 64, 3)
    """
    if not isinstance(scene, Scene):
        raise TypeError(f"scene must be a Scene, got {type(scene).__name__}")
    if not 0.0 <= float(grey) <= 1.0:
        raise ValueError(f"grey must be in [0, 1], got {grey!r}")
    a = scene.alpha[..., None]
    painted = scene.image - scene.background * (1 - a)
    out = painted + float(grey) * (1 - a)
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0), dtype=np.float32)


def _to_chw(a: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


class SceneDataset(Dataset):
    r"""``n`` scenes of one split as a ``torch`` data set.

    Item ``i`` is a dict with ``image`` ``(3, H, W)``, ``background``
    ``(3, H, W)``, ``mask`` ``(1, H, W)`` float, ``box`` ``(4,)`` long and
    ``label`` (long), all generated on demand from :func:`scene_seed`.

    Args:
        split (str): ``"train"``, ``"val"`` or ``"test"``.
        n (int): Number of scenes (the first ``n`` of the split).
        size (int, optional): Image side. Default 64.
        offset (int, optional): Index of the first scene in the split.
        variant (str, optional): Generator variant, one of :data:`VARIANTS`.
            Default ``"default"``.

    Examples::

        >>> ds = SceneDataset("val", 32)
        >>> item = ds[0]
        >>> item["image"].shape, item["mask"].shape, item["box"].shape
        (torch.Size([3, 64, 64]), torch.Size([1, 64, 64]), torch.Size([4]))
        >>> loader = torch.utils.data.DataLoader(ds, batch_size=8)
    """

    def __init__(
        self,
        split: str,
        n: int,
        size: int = 64,
        offset: int = 0,
        variant: str = "default",
    ) -> None:
        count = _splits(split, variant)[split][1]
        if not isinstance(n, int) or n < 1 or offset < 0 or offset + n > count:
            raise ValueError(
                f"n (={n!r}) and offset (={offset!r}) must select scenes within "
                f"the {count} of split {split!r}"
            )
        self.split, self.n, self.size, self.offset = split, n, size, offset
        self.variant = variant

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Dict[str, Tensor]:
        if not 0 <= i < self.n:
            raise IndexError(i)
        seed = scene_seed(self.split, self.offset + i, self.variant)
        s = make_scene(seed, self.size, variant=self.variant)
        return {
            "image": _to_chw(s.image),
            "background": _to_chw(s.background),
            "mask": torch.from_numpy(s.mask[None].astype(np.float32)),
            "box": torch.tensor(s.box, dtype=torch.long),
            "label": torch.tensor(s.label, dtype=torch.long),
        }


def load_split(
    split: str,
    n: int,
    size: int = 64,
    offset: int = 0,
    with_details: bool = False,
    variant: str = "default",
):
    r"""The first ``n`` scenes of ``split`` stacked into tensors.

    Args:
        split (str): ``"train"``, ``"val"`` or ``"test"``.
        n (int): How many scenes.
        size (int, optional): Image side. Default 64.
        offset (int, optional): Index of the first scene in the split.
        with_details (bool, optional): Also return backgrounds, masks and
            boxes.
        variant (str, optional): Generator variant, one of :data:`VARIANTS`.
            Default ``"default"``.

    Returns:
        ``(images, labels)`` with images ``(n, 3, size, size)`` float32 in
        ``[0, 1]`` and labels ``(n,)`` long; with ``with_details=True``
        ``(images, labels, backgrounds, masks, boxes)`` with masks
        ``(n, 1, size, size)`` float and boxes ``(n, 4)`` long.

    Examples::

        >>> images, labels = load_split("val", 4, variant="context")
        >>> images.shape
        torch.Size([4, 3, 64, 64])
    """
    ds = SceneDataset(split, n, size, offset, variant)
    items = [ds[i] for i in range(n)]
    images = torch.stack([it["image"] for it in items])
    labels = torch.stack([it["label"] for it in items])
    if not with_details:
        return images, labels
    return (
        images,
        labels,
        torch.stack([it["background"] for it in items]),
        torch.stack([it["mask"] for it in items]),
        torch.stack([it["box"] for it in items]),
    )
