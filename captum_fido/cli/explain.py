r"""``captum-fido explain PATH...``: saliency maps for your own image files.

A thin layer over :func:`captum_fido.explain_dataset`: it explains image
files (or every image file under the folders given) with FIDO-SSR, FIDO-SDR,
BBMP or one of Captum's Saliency, LayerGradCam, Deconvolution,
IntegratedGradients and Occlusion, on the shipped demo classifier or on a
torchvision architecture with your weights file, and writes into ``--out``:

- ``maps/<input>.npy``: per input its map, ``(H, W)`` in ``[0, 1]``, named by
  the input's path relative to the inputs' root plus ``.npy``;
- ``figures/<input>.png``: the image, the map over it, and for FIDO/BBMP
  counterfactuals (in-filled images drawn from the learned mask) with the
  classifier's confidence in the target on each;
- ``index.jsonl`` and ``index.csv``: per input the target (index and name),
  its probability on the image and on the counterfactuals, the seconds, the
  map's status (ok, empty, flooded), how the file was decoded, or why it
  failed; ``summary.json``; ``settings.json``.

Re-running the same command resumes (done inputs are skipped); other
settings are refused. A broken file is recorded and skipped; the exit
status is 1 when some input failed. ``torchrun --nproc_per_node K -m
captum_fido explain ...`` shards the inputs over K processes.

Images are resized (shorter side) and centre-cropped to the model's input
size: 64 x 64 for the demo model, the weights' own ``resize_size`` /
``crop_size`` for torchvision models. The model sees ``[0, 1]`` RGB pixels;
a torchvision model's normalisation is folded into it
(:class:`~captum_fido.demo.photos.NormalizedClassifier`), so in-fillers work
on plain pixels.

Examples::

    captum-fido explain photo.jpg --method fido-ssr
    captum-fido explain photos/ --model torchvision:resnet18 \
        --weights resnet18.pt --target "tabby cat" --out outputs/explain
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from captum_fido.cli._common import (
    add_flag,
    add_float,
    add_int,
    add_path,
    add_seed,
    make_parser,
    output_folder,
)
from captum_fido.cli._explain_choices import (
    INFILLERS,
    MASK_METHODS,
    METHODS,
    make_infiller,
    make_method,
    target_index,
)
from captum_fido.cli._models import LoadedModel, load_model
from captum_fido.explain import (
    DatasetSummary,
    ImageList,
    SettingsMismatch,
    explain_dataset,
    find_images,
)

__all__ = ["METHODS", "INFILLERS", "main"]

#: Counterfactuals drawn per image for FIDO/BBMP.
N_COUNTERFACTUALS = 3
#: Below this top-class probability the demo model is guessing.
DEMO_UNSURE = 0.5


def _parser(prog: Optional[str]) -> argparse.ArgumentParser:
    p = make_parser(
        "explain",
        "Explain image files (or every image file under the folders given) "
        "with FIDO, BBMP or a Captum method. Writes into --out: maps/ (one "
        ".npy per input), figures/, index.jsonl and index.csv. Re-running "
        "the same command resumes.",
        prog,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="image files, or folders (scanned recursively for PNG, JPEG, "
        "BMP, GIF, WebP and TIFF files)",
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        default="fido-ssr",
        metavar="NAME",
        help=f"one of {', '.join(METHODS)}",
    )
    p.add_argument(
        "--infiller",
        choices=INFILLERS,
        default=None,
        metavar="NAME",
        help=f"in-filler of {', '.join(MASK_METHODS)}: one of "
        f"{', '.join(INFILLERS)}; inpainter, vae and sampler (the sampling "
        "in-painter) are the demo's networks, trained on its 64 px scenes "
        "(default: inpainter with --model demo, blur otherwise)",
    )
    p.add_argument(
        "--target",
        default=None,
        metavar="CLASS",
        help="class to explain: an index, or a class name where the model has "
        "names (default: each image's predicted class)",
    )
    p.add_argument(
        "--model",
        default="demo",
        metavar="MODEL",
        help="'demo' (the shipped 64 px scenes classifier: six shape classes "
        "only) or 'torchvision:NAME' with --weights",
    )
    add_path(
        p,
        "--weights",
        None,
        "state_dict file for --model torchvision:NAME; nothing is downloaded "
        "(default: none)",
        metavar="FILE",
    )
    theirs = "(default: the method's)"
    add_int(p, "--steps", None, f"FIDO/BBMP optimisation steps {theirs}")
    add_int(p, "--n-samples", None, f"FIDO/BBMP mask samples per step {theirs}")
    add_int(
        p,
        "--n-infills",
        None,
        "FIDO/BBMP in-fills per mask sample, the class probability averaged "
        "over them (needs --infiller sampler or another that samples; "
        "default: 1)",
    )
    add_float(p, "--l1-coeff", None, f"FIDO/BBMP sparsity weight {theirs}")
    add_seed(p)
    add_int(
        p, "--batch-size", 8, "images per method call (the maps do not depend on it)"
    )
    p.add_argument(
        "--device",
        default=None,
        help="torch device, e.g. cpu, cuda, cuda:1, mps (default: cpu; "
        "cuda:LOCAL_RANK under torchrun on a machine with GPUs)",
    )
    add_path(
        p,
        "--out",
        Path("outputs/explain"),
        "output folder: new, empty, or of an earlier run of the same command "
        "(which it resumes); never an input folder",
        metavar="DIR",
    )
    add_flag(p, "--no-figures", "write maps and index only")
    add_flag(p, "--retry-failed", "retry inputs an earlier run recorded as failed")
    add_int(p, "--threads", 0, "torch intra-op threads (0: torch's default)", low=0)
    return p


# -- checks on the arguments, all before any model work ----------------------


def _images(p: argparse.ArgumentParser, paths: Sequence[str], out: Path) -> ImageList:
    r"""The image files named or under the folders named; ``--out`` must not
    be among them. Files are decoded later, by the run: an unreadable one is
    recorded there and skipped."""
    try:
        images = find_images(paths)
        images.check_output(out, name="--out")
    except ValueError as err:
        p.error(str(err))
    return images


def _device(p: argparse.ArgumentParser, text: str) -> torch.device:
    try:
        device = torch.device(text)
    except RuntimeError as err:
        p.error(f"--device {text!r}: {err}")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(device.type, False):
        p.error(f"--device {text}: no {device.type} device is available here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        p.error(f"--device {text}: only {torch.cuda.device_count()} GPU(s) here")
    return device


# -- notes -------------------------------------------------------------------


def _sizes(images: ImageList) -> List[Optional[Tuple[int, int]]]:
    r"""``(width, height)`` of each file from its header (``None`` when the
    header cannot be read: the run records why)."""
    from PIL import Image

    sizes: List[Optional[Tuple[int, int]]] = []
    for path in images.paths:
        try:
            with Image.open(path) as im:
                sizes.append(im.size)
        except Exception:  # the run decodes it again and records the reason
            sizes.append(None)
    return sizes


def _demo_classes(loaded: LoadedModel) -> str:
    names = ", ".join(loaded.classes or ())
    return f"the demo model knows only its six scene classes ({names})"


def _size_notes(images: ImageList, loaded: LoadedModel) -> None:
    side = f"{loaded.crop}x{loaded.crop}"
    sizes = [s for s in _sizes(images) if s is not None]
    changed = sum(s != (loaded.crop, loaded.crop) for s in sizes)
    print(f"explain: {len(images.paths)} file(s) with {loaded.name}, input {side}")
    if changed:
        print(
            f"note: {changed} image(s) are not {side}; each is resized (shorter "
            f"side {loaded.resize}) and centre-cropped to {side}"
        )
        if loaded.name == "demo":
            print(
                f"note: {_demo_classes(loaded)}; images that are not its 64 px "
                "scenes get a map of its best guess among them. Give your "
                "classifier with --model torchvision:NAME --weights FILE"
            )


def _report(summary: DatasetSummary, loaded: LoadedModel, out: Path) -> None:
    print(summary)
    for row in summary.failures[:10]:
        print(f"  failed: {row['id']}: {row.get('reason')}")
    if len(summary.failures) > 10:
        print(f"  ... and {len(summary.failures) - 10} more in {out / 'index.csv'}")
    odd = {s: n for s, n in summary.map_status.items() if s != "ok"}
    if odd:
        listed = ", ".join(f"{n} {s}" for s, n in odd.items())
        print(f"note: {listed} map(s); their rows in index.csv say which (map_status)")
    if loaded.name == "demo":
        unsure = sum(
            1
            for r in summary.rows
            if r.get("status") == "done"
            and (r.get("predicted_probability") or 1.0) < DEMO_UNSURE
        )
        if unsure:
            print(
                f"note: the demo model is unsure on {unsure} image(s) (top "
                f"probability below {DEMO_UNSURE}): {_demo_classes(loaded)}, "
                "so other pictures get a guess among them"
            )


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run ``explain`` (``captum-fido explain --help`` lists the options).

    Args:
        argv (sequence of str, optional): The command's arguments.
        prog (str, optional): The program name for ``usage:`` lines.

    Returns:
        int, the exit status: 0, or 1 when some input failed (each is named
        in the index with its reason; under ``torchrun`` 0, since torchrun
        takes a non-zero status for a crash), 130 when interrupted.

    Examples::

        >>> main(["scene.png", "--steps", "20", "--out", "out"])  # doctest: +SKIP
        0
    """
    p = _parser(prog)
    a = p.parse_args(argv)
    if a.infiller is not None and a.method not in MASK_METHODS:
        p.error(f"--infiller goes with {', '.join(MASK_METHODS)}, not {a.method}")
    images = _images(p, a.paths, a.out)
    out = output_folder(p, "--out", a.out)
    device = _device(p, a.device) if a.device is not None else None
    if a.threads:
        torch.set_num_threads(a.threads)
    loaded = load_model(p, a)
    infiller_name = a.infiller or ("inpainter" if loaded.name == "demo" else "blur")
    infiller = (
        make_infiller(p, infiller_name, loaded) if a.method in MASK_METHODS else None
    )
    if (a.n_infills or 1) > 1 and not (infiller is not None and infiller.stochastic):
        p.error(
            f"--n-infills {a.n_infills} needs a mask method with an in-filler "
            f"that samples (e.g. --infiller sampler); --infiller {infiller_name} "
            "gives the same fill every time"
        )
    probe = torch.zeros(1, 3, loaded.crop, loaded.crop)
    try:
        with torch.no_grad():
            n_out = int(loaded.model(probe).shape[1])
    except Exception as err:  # any failure of the user's model on its input
        p.error(f"{loaded.name} cannot take a {tuple(probe.shape)} image: {err}")
    target = target_index(p, a.target, loaded, n_out)
    if a.method == "gradcam":
        try:
            layer = loaded.gradcam_layer(loaded.model)
        except ValueError as err:
            p.error(f"--method gradcam on {loaded.name}: {err}")
        loaded.gradcam_layer = lambda model: layer
    method, options = make_method(a, loaded, infiller)
    label = a.method if infiller is None else f"{a.method} ({infiller_name})"
    main_rank = int(os.environ.get("RANK", "0")) == 0
    if main_rank:
        _size_notes(images, loaded)
    try:
        summary = _run(a, images, out, device, loaded, method, options, target, label)
    except SettingsMismatch as err:
        p.error(str(err))
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the inputs finished so far are kept in {out}; run "
            "the same command again to resume",
            file=sys.stderr,
        )
        return 130
    if main_rank:
        _report(summary, loaded, out)
    # Under torchrun a non-zero status reads as a crashed worker and tears
    # the group down: there, failed inputs are reported in the summary only.
    sharded = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return 1 if summary.failed and not sharded else 0


def _run(
    a: argparse.Namespace,
    images: ImageList,
    out: Path,
    device: Optional[torch.device],
    loaded: LoadedModel,
    method: Any,
    options: Dict[str, Any],
    target: Optional[int],
    label: str,
) -> DatasetSummary:
    r"""The data-set run: everything the command does after its checks."""
    return explain_dataset(
        method,
        images,
        out,
        target="predicted" if target is None else target,
        model=loaded.model,
        transform=loaded.transform,
        batch_size=a.batch_size,
        seed=a.seed,
        attribute_kwargs=options,
        n_counterfactuals=N_COUNTERFACTUALS if a.method in MASK_METHODS else 0,
        device=device,
        class_names=loaded.classes,
        figures=not a.no_figures,
        retry_failed=a.retry_failed,
        name=label,
    )
