r"""Explain a whole data set: batched, resumable, crash-safe, sharded.

:func:`explain_dataset` explains every input of a folder tree, a list of
image files, or a ``Dataset``/``DataLoader`` with any attribution method
(FIDO, BBMP, a Captum method, a function), writing one map per input and an
index into an output folder. A re-run resumes; ``torchrun`` shards it.
The command ``captum-fido explain`` is a thin layer over it.

- :func:`read_image`: the faithful decoder it uses (16-bit PNG, palette,
  grey+alpha, CMYK, EXIF orientation), with what it converted.
- :func:`find_images`: the image files of folders and paths, with the ids
  (relative paths) their outputs are named by.

See ``docs/explain_dataset.md``.
"""

from captum_fido.explain._decode import (
    IMAGE_SUFFIXES,
    DecodedImage,
    UnreadableImage,
    read_image,
)
from captum_fido.explain._inputs import ImageList, find_images
from captum_fido.explain._run import DatasetSummary, explain_dataset
from captum_fido.explain._store import SettingsMismatch

__all__ = [
    "explain_dataset",
    "DatasetSummary",
    "SettingsMismatch",
    "read_image",
    "DecodedImage",
    "UnreadableImage",
    "find_images",
    "ImageList",
    "IMAGE_SUFFIXES",
]
