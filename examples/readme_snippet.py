r"""The README's usage snippet, as a script (tests/test_readme.py keeps the two equal).

Explains one test scene of the shipped demo domain with FIDO-SSR and the
shipped in-painter, and saves Captum's overlay to ``fido_map.png``.

Run:  python examples/readme_snippet.py
"""

# --- README snippet start ---
import torch
from captum.attr import visualization as viz

from captum_fido import FIDO
from captum_fido.demo.domains import load_domain
from captum_fido.demo.pretrained import load_inpainter_infiller

domain = load_domain("scenes")  # 64 x 64 scenes with a trained classifier
model = domain.load_classifier()  # eval mode, weights shipped in the package
images, labels, _ = domain.load_split("test", 1)  # RGB in [0, 1], boxes

torch.set_num_threads(1)  # one thread per process: see "Threads" below
fido = FIDO(model, load_inpainter_infiller(), objective="ssr")  # or "sdr"
attr = fido.attribute(images, target=labels, seed=0)  # the defaults: no tuning

# Captum draws HWC numpy arrays: detach (the map may carry autograd history),
# move to the CPU, put channels last. The overlay assumes an image in [0, 1].
fig, _ = viz.visualize_image_attr(
    attr[0].detach().cpu().permute(1, 2, 0).numpy(),
    images[0].detach().cpu().permute(1, 2, 0).numpy(),
    method="blended_heat_map",
    sign="positive",
    outlier_perc=0,  # FIDO's maps are near-binary: keep every value
    use_pyplot=False,
)
fig.savefig("fido_map.png")
print(f"class {domain.classes[labels[0]]}: kept {attr[0, 0].mean():.0%} of the image")
# --- README snippet end ---
