r"""How a scene of :mod:`captum_fido.demo.scenes` is drawn: a crop of a
scikit-image picture, clutter, and one anti-aliased, shaded object. Every
function draws from the generator it is given, in a fixed order, so a scene
stays a pure function of its seed."""

from __future__ import annotations

import colorsys
import functools
from typing import List, Optional, Tuple

import cv2
import numpy as np

__all__ = [
    "BACKGROUNDS",
    "random_background",
    "draw_clutter",
    "object_alpha",
    "object_colour",
]

#: The scikit-image pictures the backgrounds are cropped from.
BACKGROUNDS = (
    "brick",
    "grass",
    "gravel",
    "coffee",
    "astronaut",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "moon",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "page",
)

_SUPERSAMPLE_SHIFT = 4  # cv2 sub-pixel bits for anti-aliased polygons


@functools.cache
def _background(name: str) -> np.ndarray:
    import skimage.data

    if name == "stereo_motorcycle":
        img = skimage.data.stereo_motorcycle()[0]
    else:
        img = getattr(skimage.data, name)()
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    img = img.astype(np.float32)
    if img.max() > 1.0:
        img = img / 255.0
    # Bring every picture to at most 256 px on its longer side: crops of
    # 48-160 px then resample to 64 px at roughly natural texture scale.
    scale = 256.0 / max(img.shape[:2])
    if scale < 1.0:
        img = cv2.resize(
            img,
            (round(img.shape[1] * scale), round(img.shape[0] * scale)),
            interpolation=cv2.INTER_AREA,
        )
    return np.ascontiguousarray(img)


def random_background(
    rng: np.random.Generator, size: int, name: Optional[str] = None
) -> Tuple[np.ndarray, str]:
    if name is None:
        name = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    src = _background(name)
    h, w = src.shape[:2]
    side = int(rng.integers(48, min(160, h, w) + 1))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = src[y : y + side, x : x + side]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    if crop.ndim == 2:
        # Tint grey textures so they are not all grey.
        tint = np.array(
            colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.5), 1.0),
            dtype=np.float32,
        )
        crop = crop[..., None] * tint[None, None, :]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    gain = rng.uniform(0.7, 1.2)
    offset = rng.uniform(-0.1, 0.1)
    crop = np.clip(crop * gain + offset, 0.0, 1.0)
    return np.ascontiguousarray(crop, dtype=np.float32), name


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.55, 1))
    return np.array(rgb, dtype=np.float32)


def draw_clutter(rng: np.random.Generator, img: np.ndarray) -> None:
    size = img.shape[0]
    for _ in range(int(rng.integers(2, 6))):
        layer = np.zeros((size, size), np.uint8)
        colour = _random_colour(rng)
        if rng.random() < 0.5:
            p0 = rng.integers(0, size, 2)
            length = rng.uniform(6, 20)
            angle = rng.uniform(0, 2 * np.pi)
            p1 = p0 + length * np.array([np.cos(angle), np.sin(angle)])
            cv2.line(
                layer,
                (int(p0[0]), int(p0[1])),
                (int(p1[0]), int(p1[1])),
                255,
                int(rng.integers(1, 3)),
                cv2.LINE_AA,
            )
        else:
            centre = (int(rng.integers(0, size)), int(rng.integers(0, size)))
            axes = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            cv2.ellipse(
                layer,
                centre,
                axes,
                float(rng.uniform(0, 180)),
                0,
                360,
                255,
                -1,
                cv2.LINE_AA,
            )
        a = layer.astype(np.float32)[..., None] / 255.0
        img[:] = img * (1 - a) + colour * a


def _polygon(name: str, radius: float) -> List[np.ndarray]:
    r"""Vertices (unit rotation, centred at 0) of class ``name``'s outline(s)."""
    if name == "square":
        s = radius / np.sqrt(2)
        return [np.array([[-s, -s], [s, -s], [s, s], [-s, s]])]
    if name == "triangle":
        a = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return [radius * np.stack([np.cos(a), -np.sin(a)], 1)]
    if name == "star":
        a = np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, radius, radius * 0.42)
        return [np.stack([r * np.cos(a), -r * np.sin(a)], 1)]
    if name == "cross":
        t, s = radius * 0.33, radius
        return [
            np.array(
                [
                    [-t, -s],
                    [t, -s],
                    [t, -t],
                    [s, -t],
                    [s, t],
                    [t, t],
                    [t, s],
                    [-t, s],
                    [-t, t],
                    [-s, t],
                    [-s, -t],
                    [-t, -t],
                ]
            )
        ]
    raise ValueError(f"class {name!r} is not a polygon")


def object_alpha(
    rng: np.random.Generator, name: str, size: int, scale: float = 1.0
) -> np.ndarray:
    r"""The anti-aliased coverage ``(size, size)`` of one object of class
    ``name`` (radius 14-28 % of the side, times ``scale``), placed and
    rotated at random."""
    radius = float(rng.uniform(0.14 * scale, 0.28 * scale) * size)
    margin = radius + 1.0
    cx = float(rng.uniform(margin, size - margin))
    cy = float(rng.uniform(margin, size - margin))
    angle = float(rng.uniform(0, 2 * np.pi))
    layer = np.zeros((size, size), np.uint8)
    scale = 1 << _SUPERSAMPLE_SHIFT
    centre = (round(cx * scale), round(cy * scale))
    if name == "circle":
        cv2.circle(
            layer,
            centre,
            round(radius * 0.9 * scale),
            255,
            -1,
            cv2.LINE_AA,
            _SUPERSAMPLE_SHIFT,
        )
    elif name == "ring":
        thickness = max(2, round(radius * 0.3))
        r_mid = radius * 0.95 - thickness / 2
        cv2.circle(
            layer,
            centre,
            round(r_mid * scale),
            255,
            thickness,
            cv2.LINE_AA,
            _SUPERSAMPLE_SHIFT,
        )
    else:
        rot = np.array(
            [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        )
        pts = [(p @ rot.T + [cx, cy]) * scale for p in _polygon(name, radius)]
        cv2.fillPoly(
            layer,
            [np.round(p).astype(np.int32) for p in pts],
            255,
            cv2.LINE_AA,
            _SUPERSAMPLE_SHIFT,
        )
    return layer.astype(np.float32) / 255.0


def object_colour(
    rng: np.random.Generator, background: np.ndarray, alpha: np.ndarray
) -> np.ndarray:
    size = alpha.shape[0]
    colour = _random_colour(rng)
    region = alpha > 0.5
    bg_mean = background[region].mean(0)
    if np.abs(colour - bg_mean).sum() < 0.45:
        # Too close to what is under it: take the complementary colour.
        colour = np.clip(1.0 - colour, 0.1, 1.0).astype(np.float32)
    # A soft linear shading across the object, plus fine noise.
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-8
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    shade = 1.0 + rng.uniform(0.0, 0.5) * (xx * direction[0] + yy * direction[1])
    noise = rng.normal(0.0, 0.02, (size, size, 1)).astype(np.float32)
    return np.clip(colour[None, None] * shade[..., None] + noise, 0.0, 1.0)
