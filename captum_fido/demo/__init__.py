r"""An offline demo domain for FIDO: scenes with ground truth and trained models.

Kept apart from the library: nothing in :mod:`captum_fido.attr`,
:mod:`captum_fido.infillers` or :mod:`captum_fido.metrics` imports it.

- :mod:`captum_fido.demo.scenes`: the scene generator and its fixed splits.
- :mod:`captum_fido.demo.models`: the classifier, completion VAE and
  gated-convolution inpainter architectures.
- :mod:`captum_fido.demo.pretrained`: load the shipped weights
  (:func:`load_classifier`, :func:`load_inpainter_infiller`,
  :func:`load_vae_infiller`).
- :mod:`captum_fido.demo.train_classifier`,
  :mod:`captum_fido.demo.train_inpainters`: the training scripts.
- :mod:`captum_fido.demo.run_demo`: ``python -m captum_fido demo``.
- :mod:`captum_fido.demo.photos`: explaining real photographs with a
  torchvision classifier.
"""
