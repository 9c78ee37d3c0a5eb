"""A model that returns NaN or infinity on in-filled inputs stops the run with
an error naming the image and the step (FIDO, BBMP, amortised training and
refinement), instead of an all-NaN map."""

from __future__ import annotations

import math
import re
from typing import Optional, Tuple

import pytest
import torch
from conftest import BOX, RegionClassifier, region_images
from torch import nn

from captum_fido.attr import (
    BBMP,
    FIDO,
    FIDO_DEFAULTS,
    AmortisedFIDO,
    MaskExplainerNet,
    train_explainer,
)
from captum_fido.infillers import MeanInfiller

FILL = MeanInfiller([0.0, 0.0, 0.0])
N, B = 3, 4  # images per call, samples per image (step batches are N * B rows)
OPTIONS = dict(n_steps=8, n_samples=B, l1_coeff=1e-3, stop_tol=None)


class BreaksAtStep(nn.Module):
    r"""``RegionClassifier`` whose scores for ``images`` become ``value``
    from optimisation step ``step`` on (0-based). A step is a forward call on
    inputs that carry a graph to the mask (one chunk per step; the clean and
    reference passes carry none), or with ``rows`` a call of that many rows
    without a graph (the passes after the last step). A call's rows are the
    images' samples in order: image ``i`` holds rows ``i * per_image`` to
    ``(i + 1) * per_image - 1``."""

    def __init__(
        self,
        images: Tuple[int, ...],
        step: int,
        per_image: int,
        value: float,
        rows: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.inner = RegionClassifier()
        self.images, self.step, self.value = images, step, value
        self.per_image, self.rows = per_image, rows
        self.steps_seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        counted = (
            x.requires_grad
            if self.rows is None
            else x.shape[0] == self.rows and not x.requires_grad
        )
        if not counted:
            return out
        self.steps_seen += 1
        if self.steps_seen <= self.step:
            return out
        bad = torch.zeros(x.shape[0], 1, dtype=torch.bool)
        for i in self.images:
            bad[i * self.per_image : (i + 1) * self.per_image] = True
        return torch.where(bad, torch.full_like(out, self.value), out)


class BreaksOffClean(nn.Module):
    r"""NaN for image ``image`` wherever its input differs from its clean
    image; ``ids`` (an additional forward argument) says which image a row is."""

    def __init__(self, clean: torch.Tensor, image: int) -> None:
        super().__init__()
        self.inner = RegionClassifier()
        self.clean, self.image = clean, image

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        changed = (x != self.clean[ids]).flatten(1).any(dim=1)
        bad = (changed & (ids == self.image)).unsqueeze(1)
        return torch.where(bad, torch.full_like(out, math.nan), out)


def _images(n: int = N) -> torch.Tensor:
    return region_images(n, seed=5)


def _error(step: Optional[int], image: int) -> str:
    where = "before step 0" if step is None else f"at step {step}"
    return rf"non-finite score .* for image {image} .*{re.escape(where)}"


@pytest.mark.parametrize("method", [FIDO, BBMP])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_score_that_breaks_mid_run_names_the_image_and_the_step(method, value):
    per_image = B if method is FIDO else 1
    model = BreaksAtStep((1,), 3, per_image, value).eval()
    options = dict(OPTIONS, n_samples=per_image)
    with pytest.raises(ValueError, match=_error(3, 1)) as info:
        method(model, FILL).attribute(_images(), target=1, **options)
    assert "in-filled inputs" in str(info.value)
    # It stopped at that step: no later step ran.
    assert model.steps_seen == 4


def test_the_first_broken_image_is_named_and_all_are_listed():
    model = BreaksAtStep((2, 3), 0, B, math.nan).eval()
    with pytest.raises(ValueError, match=_error(0, 2)) as info:
        FIDO(model, FILL).attribute(_images(4), target=1, **OPTIONS)
    assert "images [2, 3]" in str(info.value)


@pytest.mark.parametrize("method", [FIDO, BBMP])
def test_a_model_that_breaks_off_its_clean_input_stops_before_the_first_step(method):
    x = _images()
    model = BreaksOffClean(x, image=1).eval()
    ids = torch.arange(N)
    with pytest.raises(ValueError, match=_error(None, 1)):
        method(model, FILL).attribute(
            x, target=1, additional_forward_args=(ids,), **OPTIONS
        )


def test_a_model_that_breaks_only_on_the_final_samples_is_caught_too():
    # Counterfactuals (return_details) are drawn after the last step with
    # their own row count: N * n_counterfactuals.
    k_cf = 3
    model = BreaksAtStep((0,), 0, k_cf, math.nan, rows=N * k_cf).eval()
    with pytest.raises(ValueError, match=r"image 0 on the counterfactuals"):
        FIDO(model, FILL).attribute(
            _images(),
            target=1,
            return_details=True,
            n_counterfactuals=k_cf,
            **OPTIONS,
        )


def test_a_finite_model_is_unaffected():
    model = BreaksAtStep((1,), 10**6, B, math.nan).eval()
    maps = FIDO(model, FILL).attribute(_images(), target=1, **OPTIONS)
    assert bool(torch.isfinite(maps).all()) and model.steps_seen == 8


def _training_data(n: int = 8, size: int = 32):
    x = region_images(n, size=64, seed=3)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
    return x, torch.ones(n, dtype=torch.long)


class _Halved(nn.Module):
    # RegionClassifier's box on 32-pixel images.
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        t, left, h, w = BOX
        inner.inner.box = (t // 2, left // 2, h // 2, w // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def test_amortised_training_names_the_image_of_the_batch_and_the_training_step():
    batch, b = 4, 2
    model = _Halved(BreaksAtStep((3,), 2, b, math.nan)).eval()
    with pytest.raises(ValueError, match=_error(2, 3)):
        train_explainer(
            model,
            _training_data(),
            FILL,
            options=FIDO_DEFAULTS.replace(n_steps=6, n_samples=b, l1_coeff=1e-3),
            batch_size=batch,
            width=4,
            show_progress=False,
        )


def test_amortised_refinement_names_the_image_and_the_step():
    x, _ = _training_data(2)
    explainer = MaskExplainerNet(n_classes=3, width=4).eval()
    model = _Halved(BreaksAtStep((1,), 1, B, math.inf)).eval()
    amortised = AmortisedFIDO(model, explainer, FILL)
    # Without refinement the classifier is never called: nothing to check.
    assert bool(torch.isfinite(amortised.attribute(x, target=1)).all())
    with pytest.raises(ValueError, match=_error(1, 1)):
        amortised.attribute(
            x, target=1, refine_steps=4, n_samples=B, l1_coeff=1e-3, stop_tol=None
        )
