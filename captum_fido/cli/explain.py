r"""``captum-fido explain PATH...``: saliency maps for your own image files.

Explains PNG/JPEG files (or every such file directly inside the folders
given) with FIDO-SSR, FIDO-SDR, BBMP or one of Captum's Saliency,
LayerGradCam, Deconvolution, IntegratedGradients and Occlusion, on the
shipped demo classifier or on a torchvision architecture with your weights
file. Writes into ``--out``:

- ``<image>.png`` per image: the image, the map over it, and for FIDO/BBMP
  the first counterfactuals (in-filled images drawn from the learned mask)
  with the classifier's confidence in the target on each;
- ``<image>.npy``: the map, ``(H, W)`` in ``[0, 1]``;
- ``results.json`` and ``results.csv``: per image the target (index and
  name), its probability on the image and on the counterfactuals, and the
  seconds the method took (rewritten after every image).

Images are resized (shorter side) and centre-cropped to the model's input
size: 64 x 64 for the demo model (it prints how many images that changed),
the weights' own ``resize_size``/``crop_size`` for torchvision models. The
model sees ``[0, 1]`` RGB pixels; a torchvision model's normalisation is
folded into it (:class:`~captum_fido.demo.photos.NormalizedClassifier`), so
in-fillers work on plain pixels.

Examples::

    captum-fido explain photo.jpg --method fido-ssr --steps 100
    captum-fido explain photos/ --model torchvision:resnet18 \
        --weights resnet18.pt --target "tabby cat" --out outputs/explain
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from captum_fido import __version__
from captum_fido._utils.cli import (
    float_at_least,
    int_at_least,
    make_parser,
    output_folder,
)
from captum_fido.cli._models import LoadedModel, load_image, load_model
from captum_fido.infillers import Infiller

__all__ = ["METHODS", "INFILLERS", "main"]

#: ``--method`` names; the first three optimise a mask with an in-filler.
METHODS = (
    "fido-ssr",
    "fido-sdr",
    "bbmp",
    "saliency",
    "gradcam",
    "deconvolution",
    "integrated-gradients",
    "occlusion",
)
MASK_METHODS = METHODS[:3]
#: ``--method`` -> the name of its spec in
#: :func:`captum_fido.evaluation.methods.captum_methods`.
CAPTUM_NAMES = {
    "saliency": "Saliency",
    "gradcam": "GradCAM",
    "deconvolution": "Deconvolution",
    "integrated-gradients": "IntegratedGradients",
    "occlusion": "Occlusion",
}
#: ``--infiller`` names; the last two are the demo's trained networks.
INFILLERS = (
    "inpainter",
    "vae",
    "blur",
    "mean",
    "random",
    "local",
    "opencv-telea",
    "opencv-ns",
    "road",
)
DEMO_INFILLERS = ("inpainter", "vae")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Counterfactuals drawn per image for FIDO/BBMP.
N_COUNTERFACTUALS = 3
#: The demo classifier's log-odds are a few units, so it needs a smaller
#: sparsity weight than the paper's ImageNet 1e-3 (BBMP: five times FIDO's).
DEMO_L1 = {"fido-ssr": 1e-4, "fido-sdr": 1e-4, "bbmp": 5e-4}


def _parser(prog: Optional[str]) -> argparse.ArgumentParser:
    p = make_parser(
        "explain",
        "Explain PNG/JPEG files (or every such file directly inside the "
        "folders given) with FIDO, BBMP or a Captum method. Writes into "
        "--out: <image>.png (image, map, counterfactuals), <image>.npy (the "
        "map), results.json and results.csv.",
        prog,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
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
        f"{', '.join(INFILLERS)}; inpainter and vae are the demo's networks, "
        "trained on its 64 px scenes (default: inpainter with --model demo, "
        "blur otherwise)",
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
        help="'demo' (the shipped 64 px scenes classifier) or "
        "'torchvision:NAME' with --weights",
    )
    p.add_argument(
        "--weights",
        type=Path,
        default=None,
        metavar="FILE",
        help="state_dict file for --model torchvision:NAME; nothing is "
        "downloaded (default: none)",
    )
    p.add_argument(
        "--steps",
        type=int_at_least(1),
        default=300,
        help="FIDO/BBMP optimisation steps (the paper's 300; a 224 px "
        "ResNet-18 takes minutes per image on a CPU, so try 50-100 first)",
    )
    p.add_argument(
        "--n-samples",
        type=int_at_least(1),
        default=None,
        help="FIDO/BBMP mask samples per step (default: the method's, 8 / 1)",
    )
    p.add_argument(
        "--l1-coeff",
        type=float_at_least(0.0),
        default=None,
        help="FIDO/BBMP sparsity weight (default: 1e-4 / 5e-4 on the demo "
        "model, whose log-odds are small; the method's default otherwise)",
    )
    p.add_argument("--seed", type=int_at_least(0), default=0, help="random seed")
    p.add_argument(
        "--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1, mps"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("outputs/explain"),
        metavar="DIR",
        help="output folder",
    )
    p.add_argument(
        "--threads",
        type=int_at_least(0),
        default=0,
        help="torch intra-op threads (0: torch's default)",
    )
    return p


# -- checks on the arguments, all before any model work ----------------------


def _image_files(
    p: argparse.ArgumentParser, paths: Sequence[str]
) -> List[Tuple[Path, Tuple[int, int]]]:
    r"""The image files named or inside the folders named (not recursive),
    with their ``(width, height)``; each is read once so an unreadable one
    is reported now."""
    from PIL import Image, UnidentifiedImageError

    files: List[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = sorted(
                f
                for f in path.iterdir()
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                p.error(f"folder {path} holds no PNG/JPEG file (*.png, *.jpg, *.jpeg)")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            p.error(f"{path}: no such file or folder")
    sizes = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                sizes.append(im.size)
        except (OSError, UnidentifiedImageError) as err:
            p.error(f"cannot read image {f}: {err}")
    return list(zip(files, sizes))


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


# -- in-fillers, targets, images ---------------------------------------------


def _infiller(p: argparse.ArgumentParser, name: str, loaded: LoadedModel) -> Infiller:
    from captum_fido.demo.compare import paper_infillers

    if name in DEMO_INFILLERS:
        if loaded.name != "demo":
            p.error(
                f"--infiller {name} is the demo's network, trained on its 64 px "
                "scenes; it goes with --model demo only"
            )
        from captum_fido.demo import pretrained

        return (
            pretrained.load_inpainter_infiller()
            if name == "inpainter"
            else pretrained.load_vae_infiller()
        )
    if name in ("opencv-telea", "opencv-ns", "road"):
        from captum_fido.infillers import NoisyLinearInfiller, OpenCVInfiller

        try:
            if name == "road":
                return NoisyLinearInfiller()
            return OpenCVInfiller(name.split("-")[1])
        except ImportError as err:
            p.error(f"--infiller {name}: {err}")
    return paper_infillers(loaded.crop, _data_mean(loaded))[name.capitalize()]


def _data_mean(loaded: LoadedModel) -> List[float]:
    r"""Per-channel mean of the model's training data, in ``[0, 1]`` pixels."""
    if loaded.name == "demo":
        from captum_fido.demo.scenes import load_split

        train, _ = load_split("train", 32)
        return train.mean(dim=(0, 2, 3)).tolist()
    mean = getattr(loaded.model, "mean", None)
    return mean.flatten().tolist() if isinstance(mean, Tensor) else [0.5] * 3


def _target(
    p: argparse.ArgumentParser, text: Optional[str], loaded: LoadedModel, n_out: int
) -> Optional[int]:
    if text is None:
        return None
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < n_out:
            p.error(f"--target {index}: the model has classes 0..{n_out - 1}")
        return index
    if loaded.classes is None:
        p.error(f"--target {text!r}: {loaded.name} has no class names; give an index")
    lowered = [c.lower() for c in loaded.classes]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    close = difflib.get_close_matches(text.lower(), lowered, n=3, cutoff=0.5)
    names = [loaded.classes[lowered.index(c)] for c in close]
    hint = f"did you mean {', '.join(map(repr, names))}?"
    if not close:
        more = ", ..." if len(lowered) > 10 else ""
        hint = f"known: {', '.join(loaded.classes[:10])}{more}"
    p.error(f"--target {text!r}: unknown class; {hint}")


# -- explaining ---------------------------------------------------------------


@dataclass
class Explanation:
    r"""One image's map and, for FIDO/BBMP, its counterfactuals."""

    attribution: Tensor
    counterfactuals: Optional[Tensor]
    counterfactual_probs: List[float]
    seconds: float


def _l1_coeff(a: argparse.Namespace, loaded: LoadedModel) -> Optional[float]:
    r"""``--l1-coeff``, else the demo model's, else ``None`` (the method's)."""
    if a.l1_coeff is None and loaded.name == "demo" and a.method in DEMO_L1:
        return DEMO_L1[a.method]
    return a.l1_coeff


def _explainer(
    a: argparse.Namespace, loaded: LoadedModel, infiller: Any
) -> Callable[[Tensor, int], Explanation]:
    r"""``explain(x, target) -> Explanation`` for ``--method``."""
    from captum_fido import BBMP, FIDO
    from captum_fido.evaluation.methods import captum_methods

    if a.method in MASK_METHODS:
        method = (
            BBMP(loaded.model, infiller)
            if a.method == "bbmp"
            else FIDO(loaded.model, infiller, objective=a.method[5:])
        )
        options = {
            "n_steps": a.steps,
            "n_samples": a.n_samples,
            "l1_coeff": _l1_coeff(a, loaded),
        }

        def explain_mask(x: Tensor, target: int) -> Explanation:
            start = time.perf_counter()
            attr, details = method.attribute(
                x,
                target=target,
                seed=a.seed,
                return_details=True,
                n_counterfactuals=N_COUNTERFACTUALS,
                **options,
            )
            seconds = time.perf_counter() - start
            return Explanation(
                attr[0, 0].detach().cpu(),
                details.counterfactuals[0][0].cpu(),
                details.counterfactual_probs[0].tolist(),
                seconds,
            )

        return explain_mask
    window = max(4, loaded.crop // 8)
    specs = captum_methods(loaded.gradcam_layer, occlusion_window=window)
    spec = next(s for s in specs if s.name == CAPTUM_NAMES[a.method])

    def explain_captum(x: Tensor, target: int) -> Explanation:
        start = time.perf_counter()
        maps = spec.explain(loaded.model, x, torch.tensor([target]), a.seed)
        return Explanation(maps[0].cpu(), None, [], time.perf_counter() - start)

    return explain_captum


def _figure(
    path: Path,
    image: Tensor,
    result: Explanation,
    title: str,
    method: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfs = result.counterfactuals
    k = 0 if cfs is None else cfs.shape[0]
    fig, axes = plt.subplots(
        1, 2 + k, figsize=(2.6 * (2 + k), 3.0), squeeze=False, layout="constrained"
    )
    rgb = image.permute(1, 2, 0).numpy()
    axes[0, 0].imshow(rgb)
    axes[0, 0].set_title(title, fontsize=8)
    axes[0, 1].imshow(rgb.mean(2), cmap="gray")
    axes[0, 1].imshow(
        result.attribution.numpy(), cmap="jet", alpha=0.55, vmin=0, vmax=1
    )
    axes[0, 1].set_title(method, fontsize=8)
    for j in range(k):
        assert cfs is not None
        axes[0, 2 + j].imshow(cfs[j].permute(1, 2, 0).clamp(0, 1).numpy())
        p = result.counterfactual_probs[j]
        axes[0, 2 + j].set_title(f"counterfactual {j + 1}\np={p:.2f}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_results(out: Path, settings: Dict[str, Any], rows: List[dict]) -> None:
    (out / "results.json").write_text(
        json.dumps({"settings": settings, "images": rows}, indent=1) + "\n"
    )
    fields = [
        "file",
        "target",
        "target_name",
        "probability",
        "counterfactual_probability_mean",
        "counterfactual_probabilities",
        "seconds",
        "figure",
        "map",
    ]
    with (out / "results.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            cf = row["counterfactual_probabilities"]
            writer.writerow(
                {
                    **row,
                    "counterfactual_probabilities": ";".join(f"{v:.6g}" for v in cf),
                }
            )


def _stems(files: Sequence[Path]) -> List[str]:
    r"""One output name per input file, unique (``cat``, ``cat-2``, ...)."""
    seen: Dict[str, int] = {}
    names = []
    for f in files:
        seen[f.stem] = seen.get(f.stem, 0) + 1
        names.append(f.stem if seen[f.stem] == 1 else f"{f.stem}-{seen[f.stem]}")
    return names


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run ``explain`` (``captum-fido explain --help`` lists the options).

    Args:
        argv (sequence of str, optional): The command's arguments.
        prog (str, optional): The program name for ``usage:`` lines.

    Returns:
        int, the exit status (0).

    Examples::

        >>> main(["scene.png", "--steps", "20", "--out", "out"])  # doctest: +SKIP
        0
    """
    p = _parser(prog)
    a = p.parse_args(argv)
    if a.infiller is not None and a.method not in MASK_METHODS:
        p.error(f"--infiller goes with {', '.join(MASK_METHODS)}, not {a.method}")
    files = _image_files(p, a.paths)
    out = output_folder(p, "--out", a.out)
    device = _device(p, a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    loaded = load_model(p, a)
    infiller_name = a.infiller or ("inpainter" if loaded.name == "demo" else "blur")
    infiller = _infiller(p, infiller_name, loaded) if a.method in MASK_METHODS else None
    loaded.model.to(device)
    # The demo's in-filling networks (ours, loaded above) run beside the model.
    for part in vars(infiller).values() if infiller is not None else ():
        if isinstance(part, nn.Module):
            part.to(device)
    first = load_image(files[0][0], loaded)
    try:
        with torch.no_grad():
            n_out = int(loaded.model(first.to(device)).shape[1])
    except Exception as err:  # any failure of the user's model on its input
        p.error(f"{loaded.name} cannot take a {tuple(first.shape)} image: {err}")
    target = _target(p, a.target, loaded, n_out)
    if a.method == "gradcam":
        try:
            layer = loaded.gradcam_layer(loaded.model)
        except ValueError as err:
            p.error(f"--method gradcam on {loaded.name}: {err}")
        loaded.gradcam_layer = lambda model: layer
    side = f"{loaded.crop}x{loaded.crop}"
    changed = sum(size != (loaded.crop, loaded.crop) for _, size in files)
    print(f"explain: {len(files)} image(s) with {loaded.name}, input {side}")
    if changed:
        print(
            f"note: {changed} image(s) are not {side}; each is resized (shorter "
            f"side {loaded.resize}) and centre-cropped to {side}"
        )
    return _run(a, files, out, device, loaded, infiller, infiller_name, target)


def _run(
    a: argparse.Namespace,
    files: Sequence[Tuple[Path, Tuple[int, int]]],
    out: Path,
    device: torch.device,
    loaded: LoadedModel,
    infiller: Any,
    infiller_name: str,
    target: Optional[int],
) -> int:
    from tqdm.auto import tqdm

    explain = _explainer(a, loaded, infiller)
    method = a.method if infiller is None else f"{a.method} ({infiller_name})"
    settings = {
        "version": __version__,
        "model": loaded.name,
        "method": a.method,
        "infiller": infiller_name if infiller is not None else None,
        "steps": a.steps,
        "n_samples": a.n_samples,
        "l1_coeff": _l1_coeff(a, loaded),
        "seed": a.seed,
        "device": str(device),
        "input_size": [loaded.crop, loaded.crop],
    }
    rows: List[dict] = []
    out.mkdir(parents=True, exist_ok=True)
    paths = [f for f, _ in files]
    for f, stem in tqdm(list(zip(paths, _stems(paths))), desc=method, unit="image"):
        x = load_image(f, loaded)
        x = x.to(device)
        with torch.no_grad():
            probs = loaded.model(x).softmax(1)[0].cpu()
        t = int(probs.argmax()) if target is None else target
        name = loaded.classes[t] if loaded.classes is not None else None
        result = explain(x, t)
        title = f"{name or 'class'} ({t}) p={float(probs[t]):.2f}"
        _figure(out / f"{stem}.png", x[0].cpu(), result, title, method)
        np.save(out / f"{stem}.npy", result.attribution.numpy())
        cf = result.counterfactual_probs
        rows.append(
            {
                "file": str(f),
                "target": t,
                "target_name": name,
                "probability": float(probs[t]),
                "counterfactual_probability_mean": float(np.mean(cf)) if cf else None,
                "counterfactual_probabilities": cf,
                "seconds": round(result.seconds, 4),
                "figure": str(out / f"{stem}.png"),
                "map": str(out / f"{stem}.npy"),
            }
        )
        _write_results(out, settings, rows)
    print(
        f"wrote {len(files)} figure(s), {out / 'results.json'}, {out / 'results.csv'}"
    )
    return 0
