"""Insertion and deletion curves: one implementation, known answers."""

from __future__ import annotations

import warnings

import pytest
import torch

from captum_fido.infillers import BlurInfiller, MeanInfiller, RandomInfiller
from captum_fido.metrics import (
    DeletionCurve,
    InsertionCurve,
    deletion_curve,
    insertion_curve,
)
from tests.conftest import BOX, RegionClassifier, region_images

ZERO = [0.0, 0.0, 0.0]


def _box_map(n=3, size=64):
    t, l, h, w = BOX
    m = torch.zeros(n, size, size)
    m[:, t : t + h, l : l + w] = 1.0
    return m


class _Refuses(torch.nn.Module):
    def forward(self, x):  # pragma: no cover - must never run
        raise AssertionError("the model was called before validation")


def test_insertion_known_answers_perfect_inverted_uniform():
    model = RegionClassifier().eval()
    x = region_images()
    fill = MeanInfiller(ZERO)
    perfect = insertion_curve(model, x, _box_map(), 1, fill)
    inverted = insertion_curve(model, x, 1.0 - _box_map(), 1, fill)
    uniform = insertion_curve(model, x, torch.ones(3, 64, 64), 1, fill)
    assert isinstance(perfect, InsertionCurve)
    assert perfect.normalized.shape == (3, 21)
    for c in (perfect, inverted, uniform):
        # 0 = everything in-filled (nothing restored), 1 = clean.
        torch.testing.assert_close(c.normalized[:, 0], torch.zeros(3))
        torch.testing.assert_close(c.normalized[:, -1], torch.ones(3))
    # Restoring the 7.8 % box first brings the whole score back at once.
    assert (perfect.normalized[:, 2] > 0.95).all()
    assert (perfect.area > 0.9).all()
    # The box comes back last: nothing moves until 95 % is restored.
    assert (inverted.normalized[:, :-2].abs() < 0.05).all()
    assert (inverted.area < 0.1).all()
    assert ((uniform.area > inverted.area) & (uniform.area < perfect.area)).all()


def test_insertion_is_deletion_of_the_reversed_order():
    # Restoring the k most salient pixels of m keeps exactly the pixels that
    # deleting the HW - k most salient pixels of -m keeps.
    model = RegionClassifier().eval()
    x = region_images()
    m = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1))
    fr = [0.0, 0.2, 0.5, 0.9, 1.0]
    ins = insertion_curve(model, x, m, 1, MeanInfiller(ZERO), fractions=fr)
    dele = deletion_curve(
        model, x, -m, 1, MeanInfiller(ZERO), fractions=[1 - f for f in fr[::-1]]
    )
    torch.testing.assert_close(ins.log_odds, dele.log_odds.flip(1))
    torch.testing.assert_close(ins.suppression, dele.suppression)


def test_deletion_and_insertion_share_the_normalisation():
    model = RegionClassifier().eval()
    x = region_images()
    d = deletion_curve(model, x, _box_map(), [1, 2, 1], MeanInfiller(ZERO))
    i = insertion_curve(model, x, _box_map(), [1, 2, 1], MeanInfiller(ZERO))
    assert isinstance(d, DeletionCurve)
    torch.testing.assert_close(d.suppression, i.suppression)
    torch.testing.assert_close(d.log_odds[:, 0], i.log_odds[:, -1])  # clean
    torch.testing.assert_close(d.log_odds[:, -1], i.log_odds[:, 0])  # in-filled
    assert (d.area < 0.1).all() and (i.area > 0.9).all()


def test_stochastic_infiller_is_seeded():
    model = RegionClassifier().eval()
    x = region_images()
    m = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(2))
    a = insertion_curve(model, x, m, 1, RandomInfiller(), seed=3)
    b = insertion_curve(model, x, m, 1, RandomInfiller(), seed=3)
    c = insertion_curve(model, x, m, 1, RandomInfiller(), seed=4)
    assert torch.equal(a.log_odds, b.log_odds)
    assert not torch.equal(a.log_odds, c.log_odds)


def test_internal_batch_size_and_progress_do_not_change_results():
    model = RegionClassifier().eval()
    x = region_images()
    m = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(5))
    a = insertion_curve(model, x, m, 1, MeanInfiller(ZERO), fractions=[0, 0.5, 1])
    b = insertion_curve(
        model,
        x,
        m,
        1,
        MeanInfiller(ZERO),
        fractions=[0, 0.5, 1],
        internal_batch_size=1,
        show_progress=True,
    )
    torch.testing.assert_close(a.log_odds, b.log_odds)


def test_dishonest_evaluation_infiller_warns():
    model = RegionClassifier().eval()
    x = region_images(n=1)
    with pytest.warns(UserWarning, match="insertion_curve uses BlurInfiller"):
        insertion_curve(model, x, _box_map(1), 1, BlurInfiller(2.0), fractions=[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        insertion_curve(model, x, _box_map(1), 1, MeanInfiller(ZERO), fractions=[0, 1])


@pytest.mark.parametrize("curve", [deletion_curve, insertion_curve])
def test_curves_validate_before_calling_the_model(curve):
    model = _Refuses()
    x = region_images()
    maps = _box_map()
    fill = MeanInfiller(ZERO)
    with pytest.raises(ValueError, match="maps must cover the inputs"):
        curve(model, x, torch.rand(3, 32, 32), 1, fill)
    with pytest.raises(ValueError, match="maps must have shape"):
        curve(model, x, torch.rand(64, 64), 1, fill)
    with pytest.raises(TypeError, match="inputs must be a torch.Tensor"):
        curve(model, x.numpy(), maps, 1, fill)
    with pytest.raises(ValueError, match="inputs must have shape"):
        curve(model, x[0], maps, 1, fill)
    with pytest.raises(TypeError, match="infiller"):
        curve(model, x, maps, 1, "mean")
    with pytest.raises(TypeError, match="infiller must be an infiller instance"):
        curve(model, x, maps, 1, MeanInfiller)
    with pytest.raises(ValueError, match="target"):
        curve(model, x, maps, [1, 2], fill)
    with pytest.raises(TypeError, match="target"):
        curve(model, x, maps, 1.5, fill)
    with pytest.raises(ValueError, match="output_type"):
        curve(model, x, maps, 1, fill, output_type="softmax")
    with pytest.raises(ValueError, match="internal_batch_size"):
        curve(model, x, maps, 1, fill, internal_batch_size=0)
    with pytest.raises(ValueError, match="strictly increasing"):
        curve(model, x, maps, 1, fill, fractions=[0.5, 0.1])
    with pytest.raises(ValueError, match="fractions"):
        curve(model, x, maps, 1, fill, fractions=[0.0, 1.5])
    with pytest.raises(TypeError, match="forward_func"):
        curve(None, x, maps, 1, fill)


def test_target_out_of_range_is_named():
    model = RegionClassifier().eval()
    with pytest.raises(ValueError, match="target out of range"):
        insertion_curve(model, region_images(), _box_map(), 7, MeanInfiller(ZERO))


def test_models_in_training_mode_are_left_as_they_were():
    from captum_fido.metrics import model_randomisation

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 2, 3, padding=1),
        torch.nn.BatchNorm2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(2 * 8 * 8, 3),
    ).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3, 8, 8)
    with pytest.warns(UserWarning, match="training mode"):
        insertion_curve(model, x, torch.rand(2, 8, 8), 1, MeanInfiller(ZERO))

    def grad(m, v, t):
        v = v.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(m(v)[:, t].sum(), v)
        return g

    with pytest.warns(UserWarning, match="training mode"):
        model_randomisation(model, x, 1, grad)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
