r"""Decoding image files as they are: native bit depth and orientation.

PNG, JPEG, GIF and WebP files go through torchvision's decoders
(:func:`torchvision.io.decode_image`), which keep 16 bits per channel (also
for RGB, where Pillow keeps 8), expand palettes, convert CMYK JPEGs and
apply the EXIF orientation; other formats Pillow reads (BMP, TIFF, ...) go
through Pillow, with :func:`PIL.ImageOps.exif_transpose`, as does a file
torchvision's decoder refuses but Pillow reads. (torchvision 0.29 deprecates
its decoders for TorchCodec; without them every file goes through Pillow.)
Every image comes out as ``(3, H, W)`` float32 RGB in ``[0, 1]`` (16-bit
values divided by 65535, 8-bit by 255), and what had to change to get there
(palette, grey, alpha, CMYK, orientation, bit depth) is listed in
:attr:`DecodedImage.converted`, so the index can say it.

A file that cannot be decoded raises :class:`UnreadableImage` with the
reason in words (empty, not an image, truncated, unsupported pixel mode),
never a half-decoded image: Pillow's ``LOAD_TRUNCATED_IMAGES`` stays off.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ["DecodedImage", "UnreadableImage", "read_image", "IMAGE_SUFFIXES"]

#: Suffixes a folder scan treats as images (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")

#: Formats torchvision decodes natively (16-bit PNG, CMYK JPEG, EXIF).
_TORCHVISION_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
#: Pillow modes that carry an alpha channel.
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
#: What a Pillow mode needs to become RGB, in the index's words.
_MODE_CONVERSIONS = {
    "1": "bilevel -> RGB",
    "L": "grey -> RGB",
    "LA": "grey -> RGB",
    "I;16": "grey -> RGB",
    "I;16B": "grey -> RGB",
    "I;16L": "grey -> RGB",
    "I;16N": "grey -> RGB",
    "P": "palette -> RGB",
    "PA": "palette -> RGB",
    "CMYK": "CMYK -> RGB",
}
#: Pillow modes read through Pillow's own RGB conversion (8 bits).
_PIL_8BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr")
_PIL_16BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
#: The EXIF tag of the orientation.
_ORIENTATION = 0x0112
#: Start of torchvision 0.29's deprecation notice for its image decoders.
_TORCHVISION_DEPRECATION = "The image decoding and encoding capabilities of TorchVision"

try:  # torchvision's decoders, deprecated since 0.29: Pillow when they go
    from torchvision.io import decode_image
except ImportError:  # pragma: no cover - a torchvision without them
    _HAS_TORCHVISION_DECODER = False
else:
    _HAS_TORCHVISION_DECODER = True


class UnreadableImage(ValueError):
    r"""A file that is not a decodable image; the message is the reason.

    Examples::

        >>> try:
        ...     read_image("notes.txt")  # doctest: +SKIP
        ... except UnreadableImage as err:
        ...     print(err)
        not an image: Pillow cannot identify the format
    """


@dataclass(frozen=True)
class DecodedImage:
    r"""One decoded image and how it was brought to RGB in ``[0, 1]``.

    Attributes:
        image: ``(3, H, W)`` float32 RGB in ``[0, 1]``, oriented as the
            EXIF orientation says.
        format: The file's format as Pillow names it (``"PNG"``, ``"JPEG"``).
        mode: The file's pixel mode as Pillow names it (``"RGB"``,
            ``"I;16"``, ``"P"``, ``"LA"``, ``"CMYK"``).
        bits: Bits per channel of the decoded samples (8 or 16).
        size: ``(height, width)`` after orientation.
        converted: What changed, in words, e.g. ``("palette -> RGB",
            "alpha dropped (12% of pixels not opaque)", "EXIF orientation 6
            applied")``; empty for a plain 8-bit RGB file.

    Examples::

        >>> decoded = read_image("scan16.png")  # doctest: +SKIP
        >>> decoded.bits, decoded.converted
        (16, ('grey -> RGB', '16-bit samples scaled by 1/65535'))
    """

    image: Tensor
    format: str
    mode: str
    bits: int
    size: Tuple[int, int]
    converted: Tuple[str, ...]

    def record(self) -> dict:
        r"""The index's description of the decoding (everything but pixels).

        Returns:
            dict with ``format``, ``mode``, ``bits``, ``size`` and
            ``converted``.

        Examples::

            >>> read_image("scene.png").record()["format"]  # doctest: +SKIP
            'PNG'
        """
        return {
            "format": self.format,
            "mode": self.mode,
            "bits": self.bits,
            "size": list(self.size),
            "converted": list(self.converted),
        }


def read_image(path: Union[str, Path]) -> DecodedImage:
    r"""Decode an image file at its native bit depth and orientation.

    Args:
        path (str or Path): The file.

    Returns:
        :class:`DecodedImage`: ``(3, H, W)`` float32 RGB in ``[0, 1]`` and
        what was converted.

    Raises:
        UnreadableImage: The file is empty, not an image, truncated or
            corrupt, or in a pixel mode with no defined ``[0, 1]`` range
            (32-bit integer or float samples).

    Examples::

        >>> from PIL import Image
        >>> import numpy as np
        >>> grey16 = np.full((4, 4), 65535 // 2, dtype=np.uint16)
        >>> Image.fromarray(grey16).save("/tmp/grey16.png")
        >>> decoded = read_image("/tmp/grey16.png")
        >>> round(float(decoded.image.mean()), 3), decoded.bits
        (0.5, 16)
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise UnreadableImage(f"cannot read the file: {err.strerror or err}") from None
    if not data:
        raise UnreadableImage("empty file (0 bytes)")
    return decode_bytes(data)


def decode_bytes(data: bytes) -> DecodedImage:
    r"""Decode the bytes of an image file (see :func:`read_image`)."""
    from PIL import Image, UnidentifiedImageError

    try:
        header = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnreadableImage(
            "not an image: Pillow cannot identify the format"
        ) from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise UnreadableImage(f"truncated or corrupt image: {err}") from None
    fmt, mode = str(header.format), str(header.mode)
    orientation = _orientation(header)
    if fmt in _TORCHVISION_FORMATS and _HAS_TORCHVISION_DECODER:
        try:
            return _decode_torchvision(data, fmt, mode, orientation, header.info)
        except RuntimeError as err:
            # Pillow may read what torchvision's decoder refuses (rare JPEG
            # variants); when it cannot either, its reason is the clearer one.
            try:
                return _decode_pil(Image.open(io.BytesIO(data)))
            except UnreadableImage:
                raise
            except Exception:  # Pillow failed differently: torchvision's reason
                raise UnreadableImage(
                    f"truncated or corrupt {fmt}: {_clean(str(err))}"
                ) from None
    return _decode_pil(header)


def from_pil(image: Any) -> DecodedImage:
    r"""A PIL image (as a data set may yield) converted as a file would be."""
    return _decode_pil(image)


def _decode_torchvision(
    data: bytes, fmt: str, mode: str, orientation: Optional[int], info: dict
) -> DecodedImage:
    from torchvision.io import ImageReadMode

    has_alpha = mode in _ALPHA_MODES or "transparency" in info
    read_mode = (
        ImageReadMode.RGB_ALPHA if has_alpha and fmt == "PNG" else ImageReadMode.RGB
    )
    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    with warnings.catch_warnings():
        # torchvision 0.29 deprecates its decoders in favour of TorchCodec;
        # the notice is about our dependency, nothing a user can act on.
        warnings.filterwarnings(
            "ignore", message=_TORCHVISION_DEPRECATION, category=DeprecationWarning
        )
        decoded = decode_image(raw, mode=read_mode, apply_exif_orientation=True)
    converted = _mode_notes(mode)
    if decoded.dim() == 4:  # an animated GIF or WebP: its first frame
        converted.append(f"first of {decoded.shape[0]} frames")
        decoded = decoded[0]
    bits = 16 if decoded.dtype == torch.uint16 else 8
    image = _to_unit(decoded)
    if has_alpha:
        converted.append(_alpha_note(image[3] if image.shape[0] == 4 else None))
        image = image[:3]
    if bits == 16:
        converted.append("16-bit samples scaled by 1/65535")
    converted.extend(_orientation_note(orientation))
    size = (int(image.shape[1]), int(image.shape[2]))
    return DecodedImage(image.contiguous(), fmt, mode, bits, size, tuple(converted))


def _decode_pil(im: Any) -> DecodedImage:
    from PIL import Image, ImageOps

    fmt, mode = str(im.format or "PIL"), str(im.mode)
    orientation = _orientation(im)
    try:
        im.load()
        im = ImageOps.exif_transpose(im)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise UnreadableImage(f"truncated or corrupt {fmt}: {err}") from None
    converted = _mode_notes(mode)
    if mode in _PIL_16BIT_MODES:
        grey = np.asarray(im, dtype=np.uint16).astype(np.float32) / 65535.0
        image = torch.from_numpy(grey)[None].expand(3, -1, -1).clone()
        bits = 16
        converted.append("16-bit samples scaled by 1/65535")
    elif mode in _PIL_8BIT_MODES:
        alpha = None
        if mode in _ALPHA_MODES or "transparency" in im.info:
            rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
            alpha = torch.from_numpy(rgba[..., 3].copy())
            converted.append(_alpha_note(alpha))
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        image = torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous()
        bits = 8
    else:
        words = _MODE_WORDS.get(mode, "no [0, 1] range")
        raise UnreadableImage(
            f"unsupported pixel mode {mode!r} ({words}): save the image as 8- "
            "or 16-bit RGB or grey"
        )
    converted.extend(_orientation_note(orientation))
    size = (int(image.shape[1]), int(image.shape[2]))
    return DecodedImage(image, fmt, mode, bits, size, tuple(converted))


#: Pillow modes without a defined range, in words.
_MODE_WORDS = {"I": "32-bit integer samples", "F": "32-bit float samples"}


def _to_unit(decoded: Tensor) -> Tensor:
    r"""``uint8`` / ``uint16`` samples as float32 in ``[0, 1]``."""
    if decoded.dtype == torch.uint16:
        # uint16 has few kernels; int32 holds every value exactly.
        return decoded.to(torch.int32).to(torch.float32) / 65535.0
    return decoded.to(torch.float32) / 255.0


def _mode_notes(mode: str) -> List[str]:
    note = _MODE_CONVERSIONS.get(mode)
    return [note] if note else []


def _alpha_note(alpha: Optional[Tensor]) -> str:
    r"""The note for a dropped alpha channel, with how much was transparent."""
    if alpha is None:
        return "alpha dropped"
    share = float((alpha < 1.0).float().mean())
    if share == 0.0:
        return "alpha dropped (all pixels opaque)"
    return f"alpha dropped ({share:.0%} of pixels not opaque)"


def _orientation(im: Any) -> Optional[int]:
    r"""The EXIF orientation tag (``None`` when absent or unreadable)."""
    try:
        value = im.getexif().get(_ORIENTATION)
    except Exception:  # a broken EXIF block: the decoders ignore it too
        return None
    return int(value) if isinstance(value, int) else None


def _orientation_note(orientation: Optional[int]) -> List[str]:
    if orientation is None or orientation == 1:
        return []
    return [f"EXIF orientation {orientation} applied"]


#: torchvision prefixes its errors with the C++ function and source line.
_SOURCE_PREFIX = re.compile(r"^\S+\(\), \S+:\d+, ")


def _clean(message: str) -> str:
    return _SOURCE_PREFIX.sub("", message.strip().splitlines()[0] if message else "")
