r"""An offline demo domain for FIDO: scenes with ground truth and trained models.

Kept apart from the library: nothing in :mod:`captum_fido.attr`,
:mod:`captum_fido.infillers` or :mod:`captum_fido.metrics` imports it.

- :mod:`captum_fido.demo.scenes`: the scene generator and its fixed splits.
- :mod:`captum_fido.demo.models`: the classifier, completion VAE and
  gated-convolution inpainter architectures.
- :mod:`captum_fido.demo.pretrained`: load the shipped weights
  (:func:`load_classifier`, :func:`load_inpainter_infiller`,
  :func:`load_vae_infiller`).
- :mod:`captum_fido.demo.infillers`: the paper's heuristic in-fillers at the
  demo's size and the trained ones (:func:`demo_infillers`).
- :mod:`captum_fido.demo.train_classifier`,
  :mod:`captum_fido.demo.train_inpainters`,
  :mod:`captum_fido.demo.train_explainer`: the training functions (the
  ``captum-fido train-*`` commands of :mod:`captum_fido.cli` run them).
- :mod:`captum_fido.demo.showcase`: what ``captum-fido demo`` computes and
  draws.
- :mod:`captum_fido.demo.photos`: explaining real photographs with a
  torchvision classifier.
"""

__all__ = ["DEMO_L1_COEFF"]

#: A fixed FIDO sparsity weight that suits the demo's scene classifiers,
#: whose log-odds are small (a few units; ImageNet's is the paper's 1e-3): the
#: demo's weight before the adaptive default, kept by the shipped explainer's
#: recipe and by the benchmarks that compare with earlier runs. BBMP takes
#: :data:`~captum_fido.attr.BBMP_L1_RATIO` times it.
DEMO_L1_COEFF = 1e-4
