r"""Train the digit classifier and VAE shipped with the package.

``captum-fido train-digits`` (:mod:`captum_fido.cli.train_digits`) runs
:func:`train_digit_models` (a few minutes on two CPU cores). Training is
seeded; ``<name>.pt`` holds the state dict and the held-out metrics,
``<name>.json`` the metrics alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_fido._utils.files import save_torch_atomic, write_json_atomic
from captum_fido.demo.digits.data import DigitData, load_digit_data
from captum_fido.demo.digits.models import DigitClassifier, DigitVAE
from captum_fido.demo.digits.pretrained import CLASSIFIER_FILE, VAE_FILE

__all__ = [
    "train_classifier",
    "train_vae",
    "evaluate",
    "write_summary",
    "train_digit_models",
]


def _batches(n: int, batch_size: int, generator: torch.Generator) -> List[Tensor]:
    return list(torch.randperm(n, generator=generator).split(batch_size))


def _shift(images: Tensor, generator: torch.Generator, max_shift: int = 1) -> Tensor:
    r"""Translate each image by up to ``max_shift`` pixels (zero padding):
    1,437 training digits are few, and writers do not centre them exactly."""
    n, _, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    return torch.stack(
        [
            padded[i, :, int(dy) : int(dy) + h, int(dx) : int(dx) + w]
            for i, (dy, dx) in enumerate(offsets)
        ]
    )


def _fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_loss: Callable[[Tensor], Tensor],
    data: DigitData,
    generator: torch.Generator,
    epochs: int,
    batch_size: int,
    progress: Optional[Tuple[str, str]],
) -> None:
    r"""``epochs`` passes over the training digits in batches drawn with
    ``generator``, one ``optimizer`` step on ``batch_loss(rows)`` a batch.
    ``progress`` (``None``: no bar) names the bar and formats each pass's
    mean loss."""
    n = len(data.train_labels)
    name, loss_format = progress or ("", "")
    bar = tqdm(range(epochs), desc=name, disable=progress is None)
    for _ in bar:
        model.train()
        total = 0.0
        for rows in _batches(n, batch_size, generator):
            loss = batch_loss(rows)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        bar.set_postfix_str(loss_format.format(total / n))


def train_classifier(
    data: DigitData,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    show_progress: bool = True,
) -> DigitClassifier:
    r"""Cross-entropy training with Adam and small random shifts.

    Each training digit is translated by up to one pixel (zero padding) every
    time it is drawn; Adam uses a weight decay of 1e-4.

    Args:
        data (DigitData): The digits; only the training part is used.
        epochs (int, optional): Passes over the training digits. Default 30.
        batch_size (int, optional): Digits per step. Default 64.
        lr (float, optional): Adam's learning rate. Default 2e-3.
        seed (int, optional): Seed of the initialisation, the batches and the
            shifts. Default 0.
        show_progress (bool, optional): Show a progress bar. Default True.

    Returns:
        DigitClassifier: the trained model in eval mode.

    Examples::

        >>> data = load_digit_data()
        >>> classifier = train_classifier(data, epochs=2, show_progress=False)
        >>> classifier.training
        False
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)

    def batch_loss(rows: Tensor) -> Tensor:
        images = _shift(data.train_images[rows], generator)
        return F.cross_entropy(model(images), data.train_labels[rows])

    progress = ("classifier", "loss={:.4f}") if show_progress else None
    _fit(model, optimizer, batch_loss, data, generator, epochs, batch_size, progress)
    return model.eval()


def _vae_loss(vae: DigitVAE, images: Tensor, beta: float) -> Tensor:
    mean, log_var = vae.encoder.posterior(images)
    z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
    recon = F.binary_cross_entropy_with_logits(
        vae.decoder.logits(z), images, reduction="sum"
    )
    kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
    return (recon + beta * kl) / len(images)


def train_vae(
    data: DigitData,
    epochs: int = 300,
    batch_size: int = 64,
    lr: float = 1e-3,
    beta: float = 0.5,
    seed: int = 0,
    show_progress: bool = True,
) -> DigitVAE:
    r"""ELBO training (Bernoulli likelihood, Gaussian posterior) with Adam.

    Args:
        data (DigitData): The digits; only the training part is used.
        epochs (int, optional): Passes over the training digits. Default 300.
        batch_size (int, optional): Digits per step. Default 64.
        lr (float, optional): Adam's learning rate. Default 1e-3.
        beta (float, optional): Weight of the KL term. Default 0.5.
        seed (int, optional): Seed of the initialisation, the batches and the
            latent samples. Default 0.
        show_progress (bool, optional): Show a progress bar. Default True.

    Returns:
        DigitVAE: the trained model in eval mode.

    Examples::

        >>> data = load_digit_data()
        >>> vae = train_vae(data, epochs=5, beta=0.5, show_progress=False)
        >>> vae(data.test_images[:4]).shape
        torch.Size([4, 1, 16, 16])
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    vae = DigitVAE()
    optimizer = torch.optim.Adam(vae.parameters(), lr=lr)

    def batch_loss(rows: Tensor) -> Tensor:
        return _vae_loss(vae, data.train_images[rows], beta)

    progress = ("vae", "elbo_loss={:.2f}") if show_progress else None
    _fit(vae, optimizer, batch_loss, data, generator, epochs, batch_size, progress)
    return vae.eval()


@torch.no_grad()
def evaluate(
    classifier: DigitClassifier, vae: DigitVAE, data: DigitData
) -> Tuple[Dict[str, float], Dict[str, float]]:
    r"""Held-out metrics: classifier accuracy on the digits and on their VAE
    reconstructions; the reconstructions' mean absolute and squared error per
    pixel (pixels in ``[0, 1]``).

    Args:
        classifier (DigitClassifier): The classifier, in eval mode.
        vae (DigitVAE): The VAE, in eval mode.
        data (DigitData): The digits; only the held-out part is used.

    Returns:
        ``(classifier_info, vae_info)``: ``classifier_info`` has
        ``test_accuracy``, ``test_accuracy_on_reconstructions``, ``n_train``
        and ``n_test``; ``vae_info`` has ``test_l1``, ``test_mse`` (per pixel)
        and ``test_l1_per_image``. All values are floats.

    Examples::

        >>> from captum_fido.demo.digits import load_pretrained
        >>> models = load_pretrained()
        >>> classifier_info, vae_info = evaluate(
        ...     models.classifier, models.vae, load_digit_data()
        ... )
        >>> classifier_info["test_accuracy"] > 0.97
        True
    """
    images, labels = data.test_images, data.test_labels
    accuracy = (classifier(images).argmax(1) == labels).float().mean()
    recon = vae(images)
    recon_accuracy = (classifier(recon).argmax(1) == labels).float().mean()
    classifier_info = {
        "test_accuracy": float(accuracy),
        "test_accuracy_on_reconstructions": float(recon_accuracy),
        "n_train": float(len(data.train_labels)),
        "n_test": float(len(labels)),
    }
    vae_info = {
        "test_l1": float((recon - images).abs().mean()),
        "test_mse": float((recon - images).pow(2).mean()),
        "test_l1_per_image": float((recon - images).abs().flatten(1).sum(1).mean()),
    }
    return classifier_info, vae_info


def _save(model: nn.Module, info: Dict[str, float], path: Path) -> None:
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_torch_atomic({"state_dict": state, "info": info}, path)
    write_summary(info, state, path.with_suffix(".json"))


def write_summary(info: Dict[str, float], state: Dict[str, Tensor], path: Path) -> None:
    r"""The metrics of a weights file, readable without torch, beside it.

    Writes ``info`` plus ``n_parameters`` (the number of elements in
    ``state``) as sorted, indented JSON.

    Args:
        info (dict of str to float): The metrics recorded when training.
        state (dict of str to Tensor): The model's state dict.
        path (Path): The JSON file to write (replaced atomically).

    Examples::

        >>> model = DigitClassifier()
        >>> write_summary(
        ...     {"test_accuracy": 0.99}, model.state_dict(), Path("/tmp/c.json")
        ... )
    """
    summary: Dict[str, float] = dict(info)
    summary["n_parameters"] = float(sum(v.numel() for v in state.values()))
    write_json_atomic(path, summary)


def train_digit_models(
    out: Path,
    classifier_epochs: int = 30,
    vae_epochs: int = 300,
    beta: float = 0.5,
    seed: int = 0,
    tiny: bool = False,
    show_progress: bool = True,
) -> Tuple[Dict[str, float], Dict[str, float]]:
    r"""Train both digit models and write their weights and metrics.

    Writes ``digit_classifier.pt`` and ``digit_vae.pt`` (state dict and
    held-out metrics) and a ``.json`` summary beside each into ``out``, the
    files :func:`~captum_fido.demo.digits.load_pretrained` reads.

    Args:
        out (Path): The weights folder (created when missing).
        classifier_epochs (int, optional): Classifier epochs. Default 30.
        vae_epochs (int, optional): VAE epochs. Default 300.
        beta (float, optional): Weight of the VAE's KL term. Default 0.5.
        seed (int, optional): Seed of both trainings. Default 0.
        tiny (bool, optional): One epoch each on 200 digits (a smoke test,
            not a usable model). Default False.
        show_progress (bool, optional): Show progress bars. Default True.

    Returns:
        ``(classifier_info, vae_info)``: the held-out metrics of
        :func:`evaluate`.

    Examples::

        >>> info, _ = train_digit_models(Path("/tmp/digits"), tiny=True,
        ...                              show_progress=False)
        >>> 0.0 <= info["test_accuracy"] <= 1.0
        True
    """
    torch.manual_seed(seed)
    data = load_digit_data()
    if tiny:
        data = DigitData(
            data.train_images[:200],
            data.train_labels[:200],
            data.test_images[:50],
            data.test_labels[:50],
        )
        classifier_epochs = vae_epochs = 1
    classifier = train_classifier(
        data, epochs=classifier_epochs, seed=seed, show_progress=show_progress
    )
    vae = train_vae(
        data, epochs=vae_epochs, beta=beta, seed=seed, show_progress=show_progress
    )
    classifier_info, vae_info = evaluate(classifier, vae, data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _save(classifier, classifier_info, out / CLASSIFIER_FILE)
    _save(vae, vae_info, out / VAE_FILE)
    return classifier_info, vae_info


if __name__ == "__main__":  # the command moved to captum_fido.cli
    raise SystemExit("run `captum-fido train-digits`")
