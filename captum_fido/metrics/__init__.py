r"""Evaluation of saliency maps (any method's, not only FIDO's).

Metrics take maps and models, never attribution objects, so they judge
Captum's baselines and ours alike.
"""
