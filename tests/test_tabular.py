"""FIDO and BBMP on feature rows (N, F): known answers, infillers, bad inputs."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest
import torch

from captum_fido import BBMP, FIDO, CollapsedMapWarning
from captum_fido.infillers import (
    BlurInfiller,
    FeatureMeanInfiller,
    GaussianConditionalInfiller,
    NearestNeighbourInfiller,
    as_infiller,
)

ROOT = Path(__file__).resolve().parents[1]
F = 6
#: The model relies on feature 0 (and a little on 2) and ignores feature 1.
WEIGHTS = torch.tensor([3.0, 0.0, 1.0, 0.0, 0.0, 0.0])


class LinearRows(torch.nn.Module):
    """Two classes; the logit of class 1 is ``WEIGHTS . x``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        s = x @ WEIGHTS
        return torch.stack([torch.zeros_like(s), s], dim=1)


def _train_rows(m: int = 400, seed: int = 0):
    return torch.randn(m, F, generator=torch.Generator().manual_seed(seed))


def _rows(n: int = 4):
    x = torch.randn(n, F, generator=torch.Generator().manual_seed(1)) * 0.3
    x[:, 0] = 2.0  # the relied-on feature far from its mean: evidence for class 1
    return x


FAST = dict(n_steps=60, l1_coeff=2e-5, seed=0)


CASES = [
    (FIDO, objective, infiller)
    for objective in ("ssr", "sdr")
    for infiller in (
        GaussianConditionalInfiller,
        NearestNeighbourInfiller,
        FeatureMeanInfiller,
    )
] + [
    (BBMP, "ssr", GaussianConditionalInfiller),
    (BBMP, "ssr", FeatureMeanInfiller),
    (BBMP, "sdr", FeatureMeanInfiller),
]


@pytest.mark.parametrize("method_cls, objective, infiller", CASES)
def test_relied_on_feature_high_ignored_low(method_cls, objective, infiller):
    fill = infiller().fit(_train_rows())
    x = _rows()
    attr = method_cls(LinearRows(), fill, objective=objective).attribute(
        x, target=1, **FAST
    )
    assert attr.shape == x.shape
    # Every row: the relied-on feature's attribution exceeds the ignored
    # one's by a wide margin, and the ignored one is near 0.
    assert bool((attr[:, 0] - attr[:, 1] > 0.5).all()), attr
    assert float(attr[:, 1].max()) < 0.1, attr


def test_bbmp_ca_with_a_conditional_infiller_finds_the_feature():
    # Started at 1 (keep every feature), a conditional infiller would observe
    # the whole row and return it: no gradient, nothing dropped. BBMP-CA
    # starts at tau, where nothing is observed, so the relied-on feature is
    # dropped and the ignored one kept.
    fill = GaussianConditionalInfiller().fit(_train_rows())
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapsedMapWarning)
        attr = BBMP(LinearRows(), fill, objective="sdr").attribute(
            _rows(), target=1, **FAST
        )
    assert bool((attr[:, 0] - attr[:, 1] > 0.5).all()), attr


def test_details_and_reproducibility():
    fill = GaussianConditionalInfiller().fit(_train_rows())
    x = _rows(3)
    fido = FIDO(LinearRows(), fill, objective="sdr")
    attr, details = fido.attribute(
        x, target=1, return_details=True, n_counterfactuals=2, **FAST
    )
    assert details.counterfactuals[0].shape == (3, 2, F)
    assert details.counterfactual_masks[0].shape == (3, 2, F)
    assert details.keep_prob[0].shape == (3, F)
    # Counterfactual rows keep the kept features exactly.
    kept = details.counterfactual_masks[0] > 0.5
    assert torch.equal(
        details.counterfactuals[0][kept], x[:, None].expand(3, 2, F)[kept]
    )
    again = fido.attribute(x, target=1, **FAST)
    torch.testing.assert_close(attr, again)
    # A batch gives the maps of separate calls (each row its own stream).
    alone = fido.attribute(x[1:2], target=1, **FAST)
    torch.testing.assert_close(attr[1:2], alone)


def test_feature_mask_groups_features():
    fill = GaussianConditionalInfiller().fit(_train_rows())
    groups = torch.tensor([0, 1, 0, 2, 2, 2])
    x = _rows(2)
    attr = FIDO(LinearRows(), fill, objective="sdr").attribute(
        x, target=1, feature_mask=groups, **FAST
    )
    assert torch.equal(attr[:, 0], attr[:, 2])
    assert torch.equal(attr[:, 3], attr[:, 5])
    assert bool((attr[:, 0] - attr[:, 1] > 0.5).all()), attr
    for form in (groups[None], groups[None].expand(2, F)):
        again = FIDO(LinearRows(), fill, objective="sdr").attribute(
            x, target=1, feature_mask=form, **FAST
        )
        torch.testing.assert_close(again, attr)


def test_plain_callable_tabular_infiller():
    zero = as_infiller(
        lambda x, keep: torch.zeros_like(x), uses_mask=False, tabular=True
    )
    attr = FIDO(LinearRows(), zero, objective="sdr").attribute(
        _rows(2), target=1, **FAST
    )
    assert bool((attr[:, 0] > 0.5).all()) and float(attr[:, 1].max()) < 0.1


def _load_example():
    spec = importlib.util.spec_from_file_location(
        "tabular_breast_cancer", ROOT / "examples" / "tabular_breast_cancer.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_breast_cancer_zero_weight_features_get_nothing():
    pytest.importorskip("sklearn")
    example = _load_example()
    x_tr, y_tr, x_te, y_te, _ = example.load_data()
    # A logistic model that may only use 10 of the 30 features: the other 20
    # have weight exactly 0, so dropping them cannot change the prediction.
    used = torch.arange(0, 30, 3)
    torch.manual_seed(0)
    model = torch.nn.Linear(30, 2)
    weight_mask = torch.zeros(2, 30)
    weight_mask[:, used] = 1.0
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        model.weight.data.mul_(weight_mask)
        torch.nn.functional.cross_entropy(model(x_tr), y_tr).backward()
        opt.step()
    model.weight.data.mul_(weight_mask)
    model.eval()
    with torch.no_grad():
        assert (model(x_te).argmax(1) == y_te).float().mean() > 0.9
    rows, labels = x_te[:6], y_te[:6]
    fill = GaussianConditionalInfiller().fit(x_tr)
    attr = FIDO(model, fill, objective="sdr").attribute(
        rows, target=labels, n_steps=100, l1_coeff=3e-5, seed=0
    )
    unused = torch.ones(30, dtype=torch.bool)
    unused[used] = False
    assert float(attr[:, unused].max()) < 0.1, attr[:, unused]
    # Each row drops some used feature with high probability.
    assert bool((attr[:, used].amax(dim=1) > 0.5).all()), attr[:, used]


def test_example_runs_quickly(capsys):
    pytest.importorskip("sklearn")
    assert _load_example().main(["--rows", "1", "--steps", "5", "--top", "2"]) == 0
    assert "SDR drop" in capsys.readouterr().out


# ---------------------------------------------------------------- infillers


def test_gaussian_conditional_mean_is_the_regression():
    # x1 = 0.8 x0 + noise: the conditional mean of x1 given x0 is 0.8 x0.
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(20000, generator=g)
    data = torch.stack([x0, 0.8 * x0 + 0.6 * torch.randn(20000, generator=g)], 1)
    fill = GaussianConditionalInfiller(shrinkage=0.0, sample=False).fit(data)
    assert not fill.stochastic
    x = torch.tensor([[1.5, 9.0], [-1.0, 9.0]])
    keep = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    out = fill(x, keep)
    torch.testing.assert_close(out[:, 0], x[:, 0])  # kept: untouched
    torch.testing.assert_close(out[:, 1], 0.8 * x[:, 0], atol=0.03, rtol=0)
    sampler = GaussianConditionalInfiller(shrinkage=0.0).fit(data)
    many = sampler(x[:1].expand(4000, 2), keep[:1].expand(4000, 2), g)
    assert abs(float(many[:, 1].std()) - 0.6) < 0.03  # the residual spread
    a = sampler(x, keep, torch.Generator().manual_seed(3))
    b = sampler(x, keep, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_nearest_neighbour_copies_a_training_row():
    train = _train_rows(50)
    fill = NearestNeighbourInfiller(n_neighbors=1).fit(train)
    x = train[7:8].clone()
    x[0, 3:] = 100.0  # dropped features: must not be read
    keep = torch.tensor([[1.0, 1, 1, 0, 0, 0]])
    out = fill(x, keep, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, train[7:8])
    nothing = fill(x.expand(200, F), torch.zeros(200, F), torch.Generator())
    assert len({tuple(r.tolist()) for r in nothing}) > 20  # random training rows


def test_feature_mean_infiller():
    train = _train_rows(50)
    out = FeatureMeanInfiller().fit(train)(_rows(2), torch.zeros(2, F))
    torch.testing.assert_close(out, train.mean(0).expand(2, F))


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: GaussianConditionalInfiller(shrinkage=2), ValueError, "shrinkage"),
        (lambda: NearestNeighbourInfiller(0), ValueError, "n_neighbors"),
        (lambda: NearestNeighbourInfiller(60).fit(_train_rows(50)), ValueError, "60"),
        (lambda: FeatureMeanInfiller().fit(torch.zeros(1, F)), ValueError, "two"),
        (lambda: FeatureMeanInfiller().fit(torch.zeros(5, F, 1)), ValueError, "M, F"),
        (lambda: FeatureMeanInfiller().fit([[1.0]]), TypeError, "numpy array"),
        (
            lambda: GaussianConditionalInfiller().fit(torch.zeros(5, 2)),
            ValueError,
            "constant",
        ),
    ],
)
def test_bad_infiller_settings(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_infiller_shape_checks():
    fill = GaussianConditionalInfiller().fit(_train_rows())
    with pytest.raises(ValueError, match=r"feature rows x of shape \(N, F\)"):
        fill(torch.zeros(2, 1, 1, F), torch.ones(2, 1, 1, F))
    with pytest.raises(ValueError, match=r"keep_mask must have x's shape"):
        fill(torch.zeros(2, F), torch.ones(2, 1))
    with pytest.raises(RuntimeError, match="not fitted"):
        GaussianConditionalInfiller()(torch.zeros(2, F), torch.ones(2, F))


@pytest.mark.parametrize(
    "inputs, infiller, kwargs, exc, match",
    [
        (torch.zeros(4, F, 1), None, {}, ValueError, r"\(N, C, H, W\) or \(N, F\)"),
        (torch.zeros(F), None, {}, ValueError, r"unsqueeze\(0\)"),
        (_rows(2), "blur", {}, TypeError, "use a tabular infiller"),
        (torch.rand(2, 3, 8, 8), None, {}, TypeError, "use an image infiller"),
        (torch.zeros(2, F + 1), None, {}, ValueError, "fitted on 6 features.*has 7"),
        (_rows(2), "unfitted", {}, ValueError, "not fitted"),
        (_rows(2), None, dict(tv_coeff=0.5), ValueError, "tv_coeff=0.5 has no"),
        (_rows(2), None, dict(mask_size=2), ValueError, "mask_size applies to"),
        (
            _rows(2),
            None,
            dict(feature_mask=torch.zeros(3, F, dtype=torch.long)),
            ValueError,
            r"does not fit feature rows",
        ),
        (
            (_rows(2), torch.rand(2, 3, 8, 8)),
            None,
            {},
            ValueError,
            "either all images",
        ),
    ],
)
def test_bad_tabular_inputs(inputs, infiller, kwargs, exc, match):
    model = LinearRows()
    fill = {
        "blur": BlurInfiller(1.0),
        "unfitted": NearestNeighbourInfiller(),
        None: GaussianConditionalInfiller().fit(_train_rows()),
    }[infiller]
    with pytest.raises(exc, match=match):
        FIDO(model, fill).attribute(inputs, target=1, n_steps=2, **kwargs)
    assert model.calls == 0  # refused before the model ran


def test_tv_coeff_zero_and_default_accepted():
    fill = FeatureMeanInfiller().fit(_train_rows())
    for tv in (0.0, None):
        attr = FIDO(LinearRows(), fill).attribute(
            _rows(1), target=1, n_steps=2, tv_coeff=tv
        )
        assert attr.shape == (1, F)


def test_tabular_infiller_subclasses_must_fit_and_fill():
    from captum_fido.infillers import TabularInfiller

    class FitOnly(TabularInfiller):
        def _fit(self, rows):
            self.rows = rows

    with pytest.raises(TypeError, match="_fill"):
        FitOnly()
