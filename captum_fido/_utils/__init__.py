r"""Private helpers shared across the package, kept in one place.

- :mod:`~captum_fido._utils.validation`: argument checks that raise a
  ``TypeError`` / ``ValueError`` naming the argument, before any work.
- :mod:`~captum_fido._utils.captum_compat`: the only module that touches
  Captum's private ``captum._utils``.
- :mod:`~captum_fido._utils.scores`: the target's log-odds, computed one way.
- :mod:`~captum_fido._utils.model_state`: explaining a model never changes it.
- :mod:`~captum_fido._utils.rows`: chunked evaluation over rows and per-row
  selection of ``additional_forward_args``.

``attr``, ``counterfactual``, ``metrics`` and ``infillers`` import from here;
nothing imports another sub-package's private modules.
"""
