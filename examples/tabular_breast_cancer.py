r"""FIDO on a tabular classifier: scikit-learn's breast-cancer data.

The 30 features are standardised on the training split; a small torch MLP
learns malignant (0) vs benign (1). FIDO explains some test rows through the
same ``attribute`` call as for images, with ``(N, F)`` inputs, and a
conditional in-filler fitted on the training rows replaces dropped features
with values plausible given the kept ones. The script prints each row's top
features under FIDO-SDR (drop probability: what must go for the prediction
to change) and FIDO-SSR (keep probability: what suffices to keep it).

FIDO runs its default budget (72 steps x 4 samples) with a fixed sparsity
weight, ``l1_coeff=3e-5``: it multiplies the expected fraction of features
kept or dropped times 224 * 224, as for images, so a whole row costs 1.5
log-odds. The default weight (``"adaptive"``) makes the whole row cost what
in-filling all of it removes, tens of log-odds for this MLP; the
conditional in-filler refills a dropped feature from the correlated kept
ones, so on some rows no set of features is worth its share of that, and
those maps come out empty (see ``docs/tutorials/tabular.md``).

Run:  python examples/tabular_breast_cancer.py [--rows 4] [--steps N]
(a few seconds on one CPU core; needs scikit-learn, the ``[demo]`` extra).
"""

from __future__ import annotations

import argparse
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from captum_fido import FIDO
from captum_fido.infillers import GaussianConditionalInfiller


def load_data(seed: int = 0) -> Tuple[Tensor, Tensor, Tensor, Tensor, List[str]]:
    r"""Standardised train/test splits ``(X_train, y_train, X_test, y_test,
    feature_names)`` of the breast-cancer data (shipped with scikit-learn)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    x_tr, x_te, y_tr, y_te = train_test_split(
        data.data, data.target, test_size=0.25, random_state=seed, stratify=data.target
    )
    scaler = StandardScaler().fit(x_tr)
    return (
        torch.tensor(scaler.transform(x_tr), dtype=torch.float32),
        torch.tensor(y_tr),
        torch.tensor(scaler.transform(x_te), dtype=torch.float32),
        torch.tensor(y_te),
        list(data.feature_names),
    )


def train_mlp(x: Tensor, y: Tensor, seed: int = 0, epochs: int = 300) -> nn.Module:
    r"""A 30-16-2 MLP trained full-batch with Adam (a second on one core)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x.shape[1], 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(epochs):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4, help="test rows to explain")
    parser.add_argument(
        "--steps", type=int, default=None, help="FIDO steps (default: FIDO's)"
    )
    parser.add_argument("--top", type=int, default=5, help="features to print")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    x_tr, y_tr, x_te, y_te, names = load_data()
    model = train_mlp(x_tr, y_tr)
    with torch.no_grad():
        accuracy = (model(x_te).argmax(1) == y_te).float().mean()
    print(f"MLP test accuracy: {accuracy:.3f} on {len(y_te)} rows")

    rows, labels = x_te[: args.rows], y_te[: args.rows]
    infiller = GaussianConditionalInfiller().fit(x_tr)
    kwargs = dict(target=labels, n_steps=args.steps, l1_coeff=3e-5, seed=0)
    sdr = FIDO(model, infiller, objective="sdr").attribute(rows, **kwargs)
    ssr = FIDO(model, infiller, objective="ssr").attribute(rows, **kwargs)
    for i in range(len(rows)):
        print(f"\nrow {i}: class {int(labels[i])}")
        for title, attr in (("SDR drop", sdr[i]), ("SSR keep", ssr[i])):
            top = attr.argsort(descending=True)[: args.top].tolist()
            listed = ", ".join(f"{names[j]} {float(attr[j]):.2f}" for j in top)
            print(f"  {title}: {listed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
