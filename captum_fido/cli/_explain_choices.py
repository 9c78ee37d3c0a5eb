r"""What ``captum-fido explain``'s arguments choose: the in-filler
(``--infiller``), the target class (``--target``) and the attribution
method with its options (``--method``, ``--steps``, ``--n-samples``,
``--l1-coeff``). A bad choice stops the command through the parser
(``p.error``) before any model work."""

from __future__ import annotations

import argparse
import difflib
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from captum_fido.cli._models import LoadedModel
from captum_fido.infillers import Infiller

__all__ = [
    "METHODS",
    "MASK_METHODS",
    "INFILLERS",
    "make_infiller",
    "target_index",
    "make_method",
]

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
#: ``--infiller`` names; the first three are the demo's trained networks.
INFILLERS = (
    "inpainter",
    "vae",
    "sampler",
    "blur",
    "mean",
    "random",
    "local",
    "opencv-telea",
    "opencv-ns",
    "road",
)
DEMO_INFILLERS = ("inpainter", "vae", "sampler")
#: Counterfactuals drawn per image for FIDO/BBMP.
N_COUNTERFACTUALS = 3
#: IntegratedGradients' steps (as in ``captum_fido.evaluation.methods``).
IG_STEPS = 32


def make_infiller(
    p: argparse.ArgumentParser, name: str, loaded: LoadedModel
) -> Infiller:
    from captum_fido.demo.infillers import paper_infillers

    if name in DEMO_INFILLERS:
        if loaded.name != "demo":
            p.error(
                f"--infiller {name} is the demo's network, trained on its 64 px "
                "scenes; it goes with --model demo only"
            )
        from captum_fido.demo import pretrained

        loaders: Dict[str, Callable[[], Infiller]] = {
            "inpainter": pretrained.load_inpainter_infiller,
            "vae": pretrained.load_vae_infiller,
            "sampler": pretrained.load_sampler_infiller,
        }
        return loaders[name]()
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
    return mean.flatten().tolist() if isinstance(mean, torch.Tensor) else [0.5] * 3


def target_index(
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


def make_method(
    a: argparse.Namespace, loaded: LoadedModel, infiller: Optional[Infiller]
) -> Tuple[Any, Dict[str, Any]]:
    r"""The attribution object of ``--method`` and its ``attribute`` options
    (FIDO/BBMP: only those given; the method's defaults otherwise)."""
    from captum.attr import (
        Deconvolution,
        IntegratedGradients,
        LayerGradCam,
        Occlusion,
        Saliency,
    )

    from captum_fido import BBMP, FIDO

    model = loaded.model
    if a.method in MASK_METHODS:
        assert infiller is not None  # explain makes one for every mask method
        method = (
            BBMP(model, infiller)
            if a.method == "bbmp"
            else FIDO(model, infiller, objective=a.method[5:])
        )
        given = {
            "n_steps": a.steps,
            "n_samples": a.n_samples,
            "n_infills": a.n_infills,
            "l1_coeff": a.l1_coeff,
        }
        return method, {k: v for k, v in given.items() if v is not None}
    if a.method == "gradcam":
        return LayerGradCam(model, loaded.gradcam_layer(model)), {}
    if a.method == "integrated-gradients":
        return IntegratedGradients(model), {"n_steps": IG_STEPS}
    if a.method == "occlusion":
        w = max(4, loaded.crop // 8)
        s = max(1, w // 2)
        return Occlusion(model), {
            "sliding_window_shapes": (3, w, w),
            "strides": (1, s, s),
        }
    return {"saliency": Saliency, "deconvolution": Deconvolution}[a.method](model), {}
