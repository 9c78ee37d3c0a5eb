"""Every malformed argument fails fast with a message naming it."""

from __future__ import annotations

import pytest
import torch

from captum_fido import BBMP, FIDO
from captum_fido.infillers import BlurInfiller, Infiller, MeanInfiller


class CountingModel(torch.nn.Module):
    """Counts forward passes so tests can prove nothing ran."""

    def __init__(self, out_shape=None):
        super().__init__()
        self.calls = 0
        self.out_shape = out_shape
        self.lin = torch.nn.Linear(3, 4)

    def forward(self, x):
        self.calls += 1
        out = self.lin(x.mean(dim=(2, 3)))
        if self.out_shape == "3d":
            return out[:, :, None]
        if self.out_shape == "nan":
            return out * float("nan")
        if self.out_shape == "int":
            return out.long()
        if self.out_shape == "tuple":
            return (out,)
        if self.out_shape == "rows":
            return out[:1]
        return out


X = torch.rand(2, 3, 16, 16)


def _fido(model=None, infiller=None, **kw):
    return FIDO(model or CountingModel(), infiller or MeanInfiller(), **kw)


@pytest.mark.parametrize(
    "inputs, exc, match",
    [
        (
            torch.rand(3, 16, 16),
            ValueError,
            r"inputs must have shape \(N, C, H, W\).*unsqueeze",
        ),
        (torch.rand(2, 16, 16, 3, 1), ValueError, r"inputs must have shape"),
        (
            torch.randint(0, 255, (2, 3, 16, 16)),
            TypeError,
            "inputs must be a floating-point",
        ),
        (
            X.clone().index_fill_(2, torch.tensor([0]), float("nan")),
            ValueError,
            "NaN or infinite",
        ),
        (
            X.clone().index_fill_(2, torch.tensor([0]), float("inf")),
            ValueError,
            "NaN or infinite",
        ),
        (X.numpy(), TypeError, "inputs must be a tensor or a tuple"),
        ((X, torch.rand(3, 3, 16, 16)), ValueError, "share the batch size"),
        ((X, "image"), TypeError, r"inputs\[1\] must be a torch.Tensor"),
        (torch.rand(0, 3, 16, 16), ValueError, "empty"),
    ],
)
def test_bad_inputs(inputs, exc, match):
    model = CountingModel()
    with pytest.raises(exc, match=match):
        _fido(model).attribute(inputs, target=0, n_steps=2)
    assert model.calls == 0


@pytest.mark.parametrize(
    "target, exc, match",
    [
        (4, ValueError, r"target out of range.*4 classes"),
        (-1, ValueError, "target out of range"),
        ([0, 1, 2], ValueError, "one entry per image"),
        (torch.tensor([0, 1, 2]), ValueError, r"target tensor must have shape \(2,\)"),
        (torch.tensor([0.0, 1.0]), TypeError, "target tensor must hold integers"),
        ([0, 1.5], TypeError, "target list entries must be ints"),
        ((0, 1), TypeError, "target tuples"),
        ("cat", TypeError, "target must be"),
        (True, TypeError, "target must be"),
        (None, ValueError, "target is required"),
    ],
)
def test_bad_targets(target, exc, match):
    model = CountingModel()
    with pytest.raises(exc, match=match):
        _fido(model).attribute(X, target=target, n_steps=2)
    # At most the one validating forward pass on the clean inputs ran.
    assert model.calls <= 1


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(n_steps=0), ValueError, "n_steps must be >= 1"),
        (dict(n_steps=2.5), TypeError, "n_steps must be an int"),
        (dict(n_samples=0), ValueError, "n_samples must be >= 1"),
        (dict(l1_coeff=-1e-3), ValueError, "l1_coeff must be >= 0"),
        (dict(tv_coeff=-0.1), ValueError, "tv_coeff must be >= 0"),
        (dict(lr=0.0), ValueError, "lr must be > 0"),
        (dict(temperature=0.0), ValueError, "temperature must be > 0"),
        (dict(reg_warmup_steps=-1), ValueError, "reg_warmup_steps must be >= 0"),
        (dict(mask_size=17), ValueError, "mask_size .* larger than the image"),
        (dict(mask_size=(4, 32)), ValueError, "mask_size .* larger than the image"),
        (dict(mask_size=0), ValueError, "mask_size must be >= 1"),
        (dict(mask_size="big"), TypeError, "mask_size must be an int or a pair"),
        (dict(seed=-1), ValueError, "seed must be >= 0"),
        (dict(seed=1.5), TypeError, "seed must be an int"),
        (dict(internal_batch_size=0), ValueError, "internal_batch_size must be >= 1"),
        (dict(l1_coeff=float("nan")), ValueError, "l1_coeff must be finite"),
    ],
)
def test_bad_settings(kwargs, exc, match):
    model = CountingModel()
    with pytest.raises(exc, match=match):
        _fido(model).attribute(X, target=0, **{"n_steps": 2, **kwargs})
    assert model.calls == 0


def test_bbmp_bad_tau():
    with pytest.raises(ValueError, match=r"tau must lie in \[0, 1\]"):
        BBMP(CountingModel(), MeanInfiller()).attribute(X, target=0, tau=1.5)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(objective="both"), ValueError, "objective must be one of"),
        (dict(output_type="softmax"), ValueError, "output_type must be one of"),
        (dict(infiller="blur"), TypeError, "infiller must be an Infiller"),
    ],
)
def test_bad_constructor(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        FIDO(CountingModel(), kwargs.pop("infiller", MeanInfiller()), **kwargs)


def test_bad_forward_func():
    with pytest.raises(TypeError, match="forward_func must be callable"):
        FIDO("resnet", MeanInfiller())


@pytest.mark.parametrize(
    "out_shape, exc, match",
    [
        ("3d", ValueError, r"must return scores of shape \(N, C\) or \(N,\)"),
        ("rows", ValueError, r"must return scores of shape"),
        ("nan", ValueError, "NaN or infinite scores"),
        ("int", TypeError, "floating-point"),
        ("tuple", TypeError, "must return a torch.Tensor"),
    ],
)
def test_bad_model_output(out_shape, exc, match):
    with pytest.raises(exc, match=match):
        _fido(CountingModel(out_shape)).attribute(X, target=0, n_steps=2)


def test_probability_contract_checked():
    model = CountingModel()
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        FIDO(lambda x: model(x) * 10, MeanInfiller(), output_type="probs").attribute(
            X, target=0, n_steps=2
        )
    with pytest.raises(ValueError, match="positive values"):
        FIDO(
            lambda x: model(x).abs() + 1, MeanInfiller(), output_type="log_probs"
        ).attribute(X, target=0, n_steps=2)


class BadInfiller(Infiller):
    def __init__(self, how):
        self.how = how

    def fill(self, x, keep_mask, generator):
        if self.how == "shape":
            return x[:, :1]
        if self.how == "dtype":
            return x.double()
        if self.how == "nan":
            return x * float("nan")
        if self.how == "type":
            return x.numpy()
        return x


@pytest.mark.parametrize(
    "how, exc, match",
    [
        ("shape", ValueError, "returned shape"),
        ("dtype", ValueError, "returned dtype"),
        ("nan", ValueError, "NaN or infinite"),
        ("type", TypeError, "must return a torch.Tensor"),
    ],
)
def test_bad_infiller_output(how, exc, match):
    with pytest.raises(exc, match=f"BadInfiller.*{match}"):
        _fido(infiller=BadInfiller(how)).attribute(X, target=0, n_steps=2)


def test_bad_plain_callable_infiller():
    with pytest.raises(ValueError, match="returned shape"):
        _fido(infiller=lambda x, keep: x[:, :, :4]).attribute(X, target=0, n_steps=2)


def test_wrong_device_infiller_output():
    class MetaInfiller(Infiller):
        def fill(self, x, keep_mask, generator):
            return torch.empty_like(x, device="meta")

    with pytest.raises(ValueError, match="expected the input's device"):
        _fido(infiller=MetaInfiller()).attribute(X, target=0, n_steps=2)


def test_additional_args_with_wrong_rows():
    model = lambda x, w: model_inner(x) * w[:, None]  # noqa: E731
    model_inner = CountingModel()
    with pytest.raises(ValueError, match=r"additional_forward_args\[0\].*N=2"):
        FIDO(model, MeanInfiller()).attribute(
            X, target=0, additional_forward_args=torch.ones(3), n_steps=2
        )
    assert model_inner.calls == 0


def test_blur_infiller_rejects_bad_sigma():
    with pytest.raises(ValueError, match="sigma must be positive"):
        BlurInfiller(sigma=0)


@pytest.mark.parametrize("method", [FIDO, BBMP])
def test_model_without_gradient_to_inputs(method):
    # A model that ignores (or detaches) its input cannot steer a mask: the
    # run says so instead of failing inside backward().
    def detached(x):
        score = x.mean(dim=(1, 2, 3)).detach()
        return torch.stack([score, -score], dim=1)

    with pytest.raises(ValueError, match="does not depend differentiably"):
        method(detached, BlurInfiller()).attribute(
            torch.rand(2, 3, 16, 16), target=0, n_steps=2, seed=0
        )
