r"""Comparing saliency methods: run many methods, score every map, report.

- :mod:`~captum_fido.evaluation.methods`: the methods behind one interface
  (Captum's baselines, FIDO, BBMP, BBMP-CA) and the classifier-pass counter.
- :mod:`~captum_fido.evaluation.harness`: :func:`run_comparison`, per-image
  rows written as they finish (resumable).
- :mod:`~captum_fido.evaluation.report`: bootstrap intervals, ``results.csv``
  and the paper's Table 1 layout.
- :mod:`~captum_fido.evaluation.distributed`: sharding with
  ``torch.distributed`` under ``torchrun``.
- :mod:`~captum_fido.evaluation.figure`: the grid of maps.

The command line ``python -m captum_fido compare`` wires these to the demo
domains (:mod:`captum_fido.cli.compare`).
"""

from captum_fido.evaluation.harness import (
    ComparisonSettings,
    EvalData,
    run_comparison,
)
from captum_fido.evaluation.methods import (
    MethodSpec,
    captum_methods,
    mask_methods,
    select_methods,
    standard_methods,
)
from captum_fido.evaluation.report import bootstrap_ci, paired_difference, summarise

__all__ = [
    "ComparisonSettings",
    "EvalData",
    "run_comparison",
    "MethodSpec",
    "captum_methods",
    "mask_methods",
    "select_methods",
    "standard_methods",
    "bootstrap_ci",
    "paired_difference",
    "summarise",
]
