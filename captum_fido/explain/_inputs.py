r"""What a data-set run explains: image files under a root, or a data set.

Every input has a stable id, the same in every run and on every process:

- image files: the path relative to the inputs' root (the folder given, or
  the deepest folder holding everything given), with ``/`` separators, e.g.
  ``"cats/cat.png"``. Output names mirror it, so no two inputs share one.
- a ``Dataset`` or ``DataLoader``: the position, zero-padded to six digits
  (``"000123"``).

Sources load lazily: only the inputs a process explains are decoded.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Set, Tuple, Union

from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset, SequentialSampler

from captum_fido.explain._decode import (
    IMAGE_SUFFIXES,
    UnreadableImage,
    from_pil,
    read_image,
)

__all__ = ["ImageList", "find_images"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ImageList:
    r"""Image files to explain, with their ids and the folders they come from.

    Attributes:
        root: The folder ids are relative to.
        paths: The files, in id order.
        ids: Per file its path relative to ``root`` (``/``-separated).
        folders: The folders given (scanned): the output folder may be
            none of them, nor inside one (a re-run would scan its outputs).
        parents: The folder of every file given: the output folder may be
            none of them (its outputs would lie among the inputs).

    Examples::

        >>> images = find_images("photos/")  # doctest: +SKIP
        >>> images.ids[:2]
        ('cats/cat.png', 'cats/cat-2.png')
    """

    root: Path
    paths: Tuple[Path, ...]
    ids: Tuple[str, ...]
    folders: Tuple[Path, ...]
    parents: Tuple[Path, ...] = ()

    def check_output(self, out: PathLike, name: str = "out") -> None:
        r"""Raise ``ValueError`` when ``out`` is an input folder, lies inside a
        scanned one, or holds an input: the run must never write among its
        inputs.

        Args:
            out (str or Path): The output folder (need not exist yet).
            name (str, optional): The argument's name in the message.

        Examples::

            >>> find_images("photos/").check_output("photos/maps")  # doctest: +SKIP
            Traceback (most recent call last):
            ...
            ValueError: out photos/maps is inside the input folder photos ...
        """
        target = Path(out).resolve()
        for folder in self.folders + self.parents:
            real = folder.resolve()
            scanned = folder in self.folders
            if target == real or (scanned and real in target.parents):
                raise ValueError(
                    f"{name} {out} is the input folder {folder}"
                    f"{' or inside it' if scanned else ''}: outputs must never "
                    "be written among the inputs; choose a folder outside it"
                )
        for path in self.folders + self.paths:
            if target in path.resolve().parents:
                raise ValueError(
                    f"the input {path} is inside {name} {out}: choose an output "
                    "folder that holds no inputs"
                )


def find_images(data: Union[PathLike, Sequence[PathLike]]) -> ImageList:
    r"""The image files of a folder tree, a file, or a list of files and
    folders, with ids relative to their common root.

    Folders are scanned recursively for the suffixes of
    :data:`~captum_fido.explain.IMAGE_SUFFIXES` (case-insensitive), skipping
    names that start with ``.``; files named explicitly are taken whatever
    their suffix (an unreadable one is recorded as failed by the run).

    Args:
        data (path or sequence of paths): Files and folders.

    Returns:
        :class:`ImageList`, sorted by id; a file named twice appears once.

    Raises:
        ValueError: a path does not exist, a folder holds no image file, or
            nothing was given.

    Examples::

        >>> images = find_images(["shelter/cats", "shelter/dogs/rex.jpg"])
        >>> images.root, images.ids  # doctest: +SKIP
        (PosixPath('shelter'), ('cats/cat.png', 'dogs/rex.jpg'))
    """
    given = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if not given:
        raise ValueError("data: no file or folder given")
    files: List[Path] = []
    folders: List[Path] = []
    parents: List[Path] = []
    for item in given:
        path = Path(os.path.abspath(os.fspath(item)))
        if path.is_dir():
            found = _scan(path)
            if not found:
                kinds = ", ".join(f"*{s}" for s in IMAGE_SUFFIXES)
                raise ValueError(f"folder {item} holds no image file ({kinds})")
            files.extend(found)
            folders.append(path)
        elif path.exists():
            files.append(path)
            parents.append(path.parent)
        else:
            raise ValueError(f"data: {item}: no such file or folder")
    root = Path(os.path.commonpath([str(f) for f in folders + parents]))
    by_id = {f.relative_to(root).as_posix(): f for f in files}
    ids = tuple(sorted(by_id))
    return ImageList(
        root,
        tuple(by_id[i] for i in ids),
        ids,
        tuple(dict.fromkeys(folders)),
        tuple(dict.fromkeys(parents)),
    )


def _scan(folder: Path) -> List[Path]:
    r"""Image files under ``folder``, recursively, hidden names skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                found.append(Path(dirpath) / name)
    return found


@dataclass
class Item:
    r"""One input as loaded: the image (or why there is none), its label."""

    id: str
    image: Optional[Tensor] = None
    label: Optional[int] = None
    source: Optional[dict] = None
    reason: Optional[str] = None


class Source(ABC):
    r"""The inputs of a run, by id, loaded lazily in id order."""

    kind = "files"

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids: Tuple[str, ...] = tuple(ids)

    @abstractmethod
    def items(self, wanted: Set[str]) -> Iterator[Item]:
        r"""The inputs whose ids are in ``wanted``, loaded, in id order."""

    def describe(self) -> dict:
        return {"kind": self.kind}


class FileSource(Source):
    r"""Image files, decoded by :func:`~captum_fido.explain.read_image`."""

    kind = "files"

    def __init__(self, images: ImageList) -> None:
        super().__init__(images.ids)
        self.images = images

    def items(self, wanted: Set[str]) -> Iterator[Item]:
        for id_, path in zip(self.images.ids, self.images.paths):
            if id_ not in wanted:
                continue
            try:
                decoded = read_image(path)
            except UnreadableImage as err:
                yield Item(id_, reason=str(err))
                continue
            yield Item(id_, decoded.image, source=decoded.record())


class DatasetSource(Source):
    r"""A map-style ``Dataset``: items by position."""

    kind = "dataset"

    def __init__(self, dataset: Dataset) -> None:
        super().__init__([_dataset_id(i) for i in range(len(dataset))])  # type: ignore[arg-type]
        self.dataset = dataset

    def items(self, wanted: Set[str]) -> Iterator[Item]:
        for i, id_ in enumerate(self.ids):
            if id_ in wanted:
                try:
                    sample = self.dataset[i]
                except Exception as err:  # the user's data set failed on this item
                    yield Item(id_, reason=f"the data set raised {_error(err)}")
                    continue
                yield _item(id_, sample)


class LoaderSource(Source):
    r"""A ``DataLoader`` in its own (sequential) order, batches split into
    samples; every process iterates it and keeps its own share."""

    kind = "dataloader"

    def __init__(self, loader: DataLoader) -> None:
        if isinstance(loader.dataset, IterableDataset):
            raise ValueError(
                "data: the DataLoader's data set is an IterableDataset, which "
                "has no stable ids for resuming and sharding; give a "
                "map-style Dataset"
            )
        if not isinstance(loader.sampler, SequentialSampler):
            raise ValueError(
                "data: a DataLoader that shuffles (or samples) cannot be "
                "resumed or sharded, its order changes between runs; pass "
                "shuffle=False, or the Dataset itself"
            )
        n = len(loader.dataset)  # type: ignore[arg-type]
        super().__init__([_dataset_id(i) for i in range(n)])
        self.loader = loader

    def items(self, wanted: Set[str]) -> Iterator[Item]:
        position = 0
        for batch in self.loader:
            for sample in _unbatch(batch):
                id_ = _dataset_id(position)
                position += 1
                if id_ in wanted:
                    yield _item(id_, sample)


def make_source(data: Any) -> Source:
    r"""The :class:`Source` for what ``explain_dataset`` was given."""
    if isinstance(data, ImageList):
        return FileSource(data)
    if isinstance(data, DataLoader):
        return LoaderSource(data)
    if isinstance(data, Dataset):
        if isinstance(data, IterableDataset) or not hasattr(data, "__len__"):
            raise ValueError(
                "data: an IterableDataset has no stable ids; give a map-style "
                "Dataset (with __len__ and __getitem__)"
            )
        return DatasetSource(data)
    if isinstance(data, (str, os.PathLike)) or (
        isinstance(data, (list, tuple))
        and data
        and all(isinstance(d, (str, os.PathLike)) for d in data)
    ):
        return FileSource(find_images(data))
    raise TypeError(
        "data must be a folder or file path, a list of paths, a "
        "torch.utils.data.Dataset or a DataLoader, got "
        f"{type(data).__name__}"
    )


def _dataset_id(position: int) -> str:
    return f"{position:06d}"


def _unbatch(batch: Any) -> List[Any]:
    r"""A collated batch as its samples: a tensor, or (images, labels, ...)."""
    if isinstance(batch, Tensor):
        return list(batch)
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], Tensor):
        return list(zip(*(list(column) for column in batch)))
    raise TypeError(
        "data: the DataLoader must yield image tensors (N, C, H, W) or "
        f"(images, labels) pairs, got {type(batch).__name__}"
    )


def _item(id_: str, sample: Any) -> Item:
    r"""One data-set sample (an image, or an ``(image, label, ...)`` tuple)."""
    image, label = sample, None
    if isinstance(sample, (tuple, list)):
        if not sample:
            return Item(id_, reason="the data set yielded an empty tuple")
        image = sample[0]
        label = sample[1] if len(sample) > 1 else None
    try:
        label = None if label is None else _label(label)
    except (TypeError, ValueError) as err:
        return Item(id_, reason=f"label: {err}")
    if isinstance(image, Tensor):
        if image.dim() != 3 or not image.is_floating_point():
            return Item(
                id_,
                reason="the data set must yield float (C, H, W) images, got "
                f"{image.dtype} of shape {tuple(image.shape)}",
            )
        return Item(id_, image.detach().cpu(), label)
    if hasattr(image, "mode") and hasattr(image, "convert"):  # a PIL image
        try:
            decoded = from_pil(image)
        except UnreadableImage as err:
            return Item(id_, reason=str(err), label=label)
        return Item(id_, decoded.image, label, decoded.record())
    return Item(
        id_,
        reason="the data set must yield images as tensors or PIL images, got "
        f"{type(image).__name__}",
    )


def _label(value: Any) -> int:
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.is_floating_point():
            raise ValueError(f"expected one integer class, got {value!r}")
        return int(value.item())
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer class, got {type(value).__name__}")
    return int(value)


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"
