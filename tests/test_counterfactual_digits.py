r"""The digits demo domain of the latent counterfactuals
(captum_fido.demo.digits): the shipped weights, criticisms with them, the
training script and ``python -m captum_fido counterfactual``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from captum_fido.counterfactual import LatentCounterfactual

pytest.importorskip("sklearn")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    r"""Small batched problems: extra intra-op threads only add overhead."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    from captum_fido.demo.digits import load_digit_data, load_pretrained

    return load_pretrained(), load_digit_data()


def test_shipped_digit_models_match_their_recorded_metrics(digits) -> None:
    from captum_fido.demo.digits import WEIGHTS_DIR

    models, data = digits
    with torch.no_grad():
        predicted = models.classifier(data.test_images).argmax(1)
        recon = models.vae(data.test_images)
    accuracy = float((predicted == data.test_labels).float().mean())
    l1 = float((recon - data.test_images).abs().mean())
    assert accuracy >= 0.97
    assert accuracy == pytest.approx(models.classifier_info["test_accuracy"], abs=1e-6)
    assert l1 == pytest.approx(models.vae_info["test_l1"], rel=1e-4)
    assert WEIGHTS_DIR.is_dir()
    for path in WEIGHTS_DIR.glob("*.pt"):
        assert path.stat().st_size < 1_000_000, path


def test_weights_are_plain_state_dicts_with_json_summaries(digits) -> None:
    r"""The moved files hold exactly the models' state dicts (strict load), and
    each JSON summary repeats the metrics stored in its weights file."""
    from captum_fido.demo.digits import WEIGHTS_DIR

    models, _ = digits
    for name, model, info in (
        ("digit_classifier", models.classifier, models.classifier_info),
        ("digit_vae", models.vae, models.vae_info),
    ):
        payload = torch.load(WEIGHTS_DIR / f"{name}.pt", weights_only=True)
        state = model.state_dict()
        assert set(payload["state_dict"]) == set(state)
        for key, value in payload["state_dict"].items():
            assert torch.equal(value, state[key]), key
        with open(WEIGHTS_DIR / f"{name}.json") as fh:
            summary = json.load(fh)
        n_parameters = sum(v.numel() for v in state.values())
        assert summary == {**info, "n_parameters": float(n_parameters)}


def test_digit_criticisms_reach_their_targets(digits) -> None:
    models, data = digits
    x = data.test_images[:4]
    labels = data.test_labels[:4]
    targets = (labels + 3) % 10
    method = LatentCounterfactual(
        models.classifier, models.vae.decoder, models.vae.encoder
    )
    result = method.explain(x, target=targets, n_steps=100, lr=0.2, n_bisection=3)
    assert float(result.success.float().mean()) >= 0.75
    with torch.no_grad():
        predicted = models.classifier(result.counterfactual).argmax(1)
    assert torch.equal(predicted[result.success], targets[result.success])


def test_training_command_smoke(tmp_path: Path) -> None:
    from captum_fido.cli import train_digits
    from captum_fido.demo.digits import load_pretrained

    assert train_digits.main(["--tiny", "--no-progress", "--out", str(tmp_path)]) == 0
    models = load_pretrained(tmp_path)
    assert not models.classifier.training and not models.vae.training
    assert 0.0 <= models.classifier_info["test_accuracy"] <= 1.0
    summary = json.loads((tmp_path / "digit_classifier.json").read_text())
    assert summary["test_accuracy"] == models.classifier_info["test_accuracy"]


def test_cli_demo_writes_a_figure(tmp_path: Path) -> None:
    from captum_fido import cli

    out = tmp_path / "sub" / "cf.png"
    argv = ["counterfactual", "--out", str(out), "--n-digits", "2", "--n-steps", "40"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli.main(argv) == 0
    assert out.is_file() and out.stat().st_size > 1000
