"""Faithful decoding: bit depth, palette, alpha, CMYK and EXIF orientation.

Every case writes a file whose pixels are known and checks the decoded
``(3, H, W)`` float image against them, plus the conversion the index
states. Broken files must fail with a reason, never decode to something.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from captum_fido.explain import UnreadableImage, read_image

#: JPEG is lossy: flat colours come back within a few levels.
JPEG_TOL = 4 / 255


def _rgb(decoded) -> np.ndarray:
    r"""``(H, W, 3)`` array of the decoded image."""
    assert decoded.image.dtype == torch.float32 and decoded.image.shape[0] == 3
    return decoded.image.permute(1, 2, 0).numpy()


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    values = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "grey16.png")
    decoded = read_image(tmp_path / "grey16.png")
    expected = values.astype(np.float32) / 65535
    for c in range(3):
        np.testing.assert_allclose(_rgb(decoded)[..., c], expected, atol=1e-6)
    assert decoded.bits == 16 and decoded.mode == "I;16"
    assert "grey -> RGB" in decoded.converted
    assert "16-bit samples scaled by 1/65535" in decoded.converted
    # Pillow's RGB conversion clips these to white: the bug this replaces.
    assert float(_rgb(decoded).mean()) < 0.5


def test_16_bit_rgb_png_keeps_every_bit(tmp_path):
    cv2 = pytest.importorskip("cv2")
    rgb = np.random.default_rng(0).integers(0, 65536, (6, 5, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb[..., ::-1])  # OpenCV writes BGR
    decoded = read_image(tmp_path / "rgb16.png")
    np.testing.assert_allclose(_rgb(decoded), rgb / 65535, atol=1e-6)
    assert decoded.bits == 16 and decoded.size == (6, 5)


def test_palette_png(tmp_path):
    im = Image.new("P", (4, 3))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    im.putpixel((1, 2), 1)
    im.putpixel((3, 0), 2)
    im.save(tmp_path / "palette.png")
    decoded = read_image(tmp_path / "palette.png")
    rgb = _rgb(decoded)
    assert rgb[0, 0].tolist() == [1, 0, 0]
    assert rgb[2, 1].tolist() == [0, 1, 0] and rgb[0, 3].tolist() == [0, 0, 1]
    assert decoded.converted == ("palette -> RGB",)


def test_grey_with_alpha_drops_alpha_and_says_how_much(tmp_path):
    grey = np.full((4, 4), 100, np.uint8)
    alpha = np.full((4, 4), 255, np.uint8)
    alpha[:2] = 0  # half transparent
    Image.fromarray(np.stack([grey, alpha], -1), "LA").save(tmp_path / "la.png")
    decoded = read_image(tmp_path / "la.png")
    np.testing.assert_allclose(_rgb(decoded), np.full((4, 4, 3), 100 / 255), atol=1e-6)
    assert decoded.converted == (
        "grey -> RGB",
        "alpha dropped (50% of pixels not opaque)",
    )


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(tmp_path / "cyan.jpg", quality=95)
    decoded = read_image(tmp_path / "cyan.jpg")
    np.testing.assert_allclose(
        _rgb(decoded), np.broadcast_to([0, 1, 1], (16, 16, 3)), atol=JPEG_TOL
    )
    assert decoded.mode == "CMYK" and decoded.converted == ("CMYK -> RGB",)


@pytest.mark.parametrize(
    "orientation,shape,corner",
    [
        (1, (10, 20), (0, 0)),
        (3, (10, 20), (9, 19)),  # rotated 180 degrees
        (6, (20, 10), (0, 9)),  # rotated 90 degrees clockwise
        (8, (20, 10), (19, 0)),  # rotated 90 degrees anticlockwise
    ],
)
def test_exif_orientation_is_applied(tmp_path, orientation, shape, corner):
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:3, :3] = 255  # a white block in the stored top-left corner
    im = Image.fromarray(pixels)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(tmp_path / "photo.jpg", exif=exif, quality=100)
    decoded = read_image(tmp_path / "photo.jpg")
    assert decoded.size == shape
    assert _rgb(decoded)[corner].min() > 0.9  # the block, where a viewer shows it
    applied = [c for c in decoded.converted if c.startswith("EXIF")]
    assert applied == (
        [] if orientation == 1 else [f"EXIF orientation {orientation} applied"]
    )


def test_formats_pillow_decodes(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "plain.bmp")
    decoded = read_image(tmp_path / "plain.bmp")
    np.testing.assert_allclose(_rgb(decoded), rgb / 255, atol=1e-6)
    assert decoded.format == "BMP" and decoded.converted == ()
    grey16 = np.full((3, 3), 40000, np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.tif")
    tiff = read_image(tmp_path / "grey16.tif")
    np.testing.assert_allclose(_rgb(tiff), np.full((3, 3, 3), 40000 / 65535), atol=1e-6)
    assert tiff.bits == 16
    Image.fromarray(np.ones((3, 3), np.float32)).save(tmp_path / "float.tif")
    with pytest.raises(UnreadableImage, match="unsupported pixel mode 'F'"):
        read_image(tmp_path / "float.tif")


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    decoded = read_image(tmp_path / "anim.gif")
    assert _rgb(decoded)[0, 0, 0] > 0.9 and _rgb(decoded)[0, 0, 2] < 0.1
    assert "first of 2 frames" in decoded.converted


def test_broken_files_raise_with_a_reason(tmp_path):
    Image.fromarray(np.zeros((32, 32, 3), np.uint8) + 7).save(tmp_path / "ok.png")
    whole = (tmp_path / "ok.png").read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "ok.jpg")
    jpeg = (tmp_path / "ok.jpg").read_bytes()
    cases = {
        "empty.png": (b"", "empty file (0 bytes)"),
        "text.png": (b"hello, not an image", "not an image"),
        "truncated.png": (whole[: len(whole) // 2], "truncated or corrupt PNG"),
        "truncated.jpg": (jpeg[: len(jpeg) * 2 // 3], "truncated or corrupt JPEG"),
        "headless.jpg": (jpeg[:200], "truncated or corrupt image"),
    }
    for name, (data, reason) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnreadableImage, match=re.escape(reason)):
            read_image(tmp_path / name)
    with pytest.raises(UnreadableImage, match="cannot read the file"):
        read_image(tmp_path / "missing.png")


def test_the_index_states_the_conversion_and_the_model_sees_the_values(tmp_path):
    from captum_fido import explain_dataset

    data = tmp_path / "data"
    data.mkdir()
    values = np.full((8, 8), 30000, np.uint16)
    Image.fromarray(values).save(data / "scan.png")

    def brightness(x, target):  # the map is the image the method was given
        return x.mean(dim=1)

    summary = explain_dataset(brightness, data, tmp_path / "out", target=0)
    (row,) = summary.rows
    assert row["source"]["bits"] == 16 and row["source"]["mode"] == "I;16"
    assert "16-bit samples scaled by 1/65535" in row["source"]["converted"]
    saved = np.load(tmp_path / "out" / row["map"])
    np.testing.assert_allclose(saved, np.full((8, 8), 30000 / 65535), atol=1e-6)
    table = (tmp_path / "out" / "index.csv").read_text()
    assert "grey -> RGB;16-bit samples scaled by 1/65535" in table
