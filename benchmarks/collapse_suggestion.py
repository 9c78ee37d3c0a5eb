r"""Does the collapsed-map warning's suggested ``l1_coeff`` un-collapse the map?

For each setting, FIDO-SSR and BBMP-SSR run with the method's default
``l1_coeff``; when the map collapses, the ``l1_coeff`` the warning suggests
is read from its text and the call is repeated with it. Recorded: whether
each map collapsed, its value range, mean (area kept) and, on the demo
scenes, the share of the map's mass inside the object's box (``box_mass``;
the box covers about 10-20% of the image). ``--reference-l1 1e-4`` also runs
the demo at the ``l1_coeff`` its documentation chose by hand.

Settings: the shipped demo classifier on 4 test scenes (64 px) with its
in-painter; a randomly initialised torchvision ResNet-18 on scikit-image's
``chelsea`` photo at 224 px with ``BlurInfiller(10)`` (the README's setting
before weights are loaded), explaining its top class, few steps.

Writes ``docs/results/collapse_suggestion.json``. Run:
    python benchmarks/collapse_suggestion.py [--steps 100] [--resnet-steps 30]
"""

from __future__ import annotations

import argparse
import json
import re
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from captum_fido import BBMP, FIDO
from captum_fido.demo import DEMO_L1_COEFF
from captum_fido.demo.showcase import box_mass

_SUGGESTION = re.compile(r"Try l1_coeff=([0-9.eE+-]+)")


def _run(
    method: Any, x: Tensor, target: Tensor, **kwargs: Any
) -> Tuple[Tensor, Optional[str]]:
    r"""The map and the collapse warning's text (``None`` when none)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        attr = method.attribute(x, target=target, seed=0, **kwargs)
    texts = [str(w.message) for w in caught if "collapsed maps" in str(w.message)]
    return attr[:, 0].detach(), (texts[0] if texts else None)


def _summary(maps: Tensor, boxes: Optional[Tensor]) -> Dict[str, Any]:
    flat = maps.flatten(1)
    out: Dict[str, Any] = {
        "min": [round(float(v), 4) for v in flat.amin(1)],
        "max": [round(float(v), 4) for v in flat.amax(1)],
        "mean": [round(float(v), 4) for v in flat.mean(1)],
    }
    if boxes is not None:
        out["box_mass"] = [round(float(v), 3) for v in box_mass(maps, boxes)]
    return out


def _setting(
    name: str,
    model: Any,
    infiller: Any,
    x: Tensor,
    target: Tensor,
    boxes: Optional[Tensor],
    kwargs: Dict[str, Any],
    reference_l1: Optional[float] = None,
) -> List[Dict[str, Any]]:
    rows = []
    for cls in (FIDO, BBMP):
        method = cls(model, infiller, objective="ssr")
        t0 = time.perf_counter()
        maps, text = _run(method, x, target, **kwargs)
        row: Dict[str, Any] = {
            "setting": name,
            "method": cls.__name__,
            "default_l1": cls.defaults.l1_coeff,
            "default": _summary(maps, boxes),
            "warning": text,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        match = _SUGGESTION.search(text or "")
        if match:
            l1 = float(match.group(1))
            maps2, text2 = _run(method, x, target, l1_coeff=l1, **kwargs)
            row.update(
                suggested_l1=l1,
                suggested=_summary(maps2, boxes),
                warning_after=text2,
            )
        if reference_l1 is not None:
            maps3, text3 = _run(method, x, target, l1_coeff=reference_l1, **kwargs)
            row.update(
                reference_l1=reference_l1,
                reference=_summary(maps3, boxes),
                warning_reference=text3,
            )
        print(json.dumps(row, indent=1), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--resnet-steps", type=int, default=30)
    parser.add_argument("--n-images", type=int, default=4)
    parser.add_argument(
        "--settings", nargs="+", default=["demo", "resnet"], choices=["demo", "resnet"]
    )
    parser.add_argument(
        "--reference-l1",
        type=float,
        default=None,
        help="also run the demo at this l1_coeff (the demo's fixed weight is "
        f"{DEMO_L1_COEFF:g})",
    )
    parser.add_argument("--out", default="docs/results/collapse_suggestion.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: List[Dict[str, Any]] = []
    if "demo" in args.settings:
        rows += _demo(args)
    if "resnet" in args.settings:
        rows += _resnet(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "runs": rows}, indent=1) + "\n")
    print(f"wrote {out}")


def _demo(args: argparse.Namespace) -> List[Dict[str, Any]]:
    from captum_fido.demo.pretrained import load_classifier, load_inpainter_infiller
    from captum_fido.demo.scenes import load_split

    images, labels, _, _, boxes = load_split("test", args.n_images, with_details=True)
    return _setting(
        "demo classifier, 64 px, in-painter",
        load_classifier(),
        load_inpainter_infiller(),
        images,
        labels,
        boxes,
        dict(n_steps=args.steps),
        args.reference_l1,
    )


def _resnet(args: argparse.Namespace) -> List[Dict[str, Any]]:
    import torchvision
    from skimage.data import chelsea

    from captum_fido.demo.photos import NormalizedClassifier, photo_to_tensor
    from captum_fido.infillers import BlurInfiller

    torch.manual_seed(0)
    resnet = NormalizedClassifier(torchvision.models.resnet18(weights=None)).eval()
    photo = photo_to_tensor(chelsea())
    with torch.no_grad():
        top = resnet(photo).argmax(1)
    return _setting(
        "untrained resnet18, 224 px, chelsea, BlurInfiller(10), top class",
        resnet,
        BlurInfiller(sigma=10.0),
        photo,
        top,
        None,
        dict(n_steps=args.resnet_steps, n_samples=4),
    )


if __name__ == "__main__":
    main()
