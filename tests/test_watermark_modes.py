"""Embedding keeps size and mode, leaves alpha alone, keeps 16-bit precision, refuses what it must."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from provmark.errors import WatermarkError
from provmark.models import add_residual, load_model, to_internal
from provmark.watermark.decision import raw_bits
from provmark.watermark.marking import decode_watermark, embed_watermark
from provmark.watermark.pilots import carried_bits

KEY = bytes(range(32))
PAYLOAD = bytes.fromhex("00112233445566ff")


@pytest.fixture(scope="module")
def photo(photo_paths: list[Path]) -> Image.Image:
    with Image.open(photo_paths[0]) as im:
        return im.convert("RGB")


def _psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(peak**2 / mse))


def test_rgb_keeps_size_and_mode_and_changes_little(photo: Image.Image) -> None:
    marked = embed_watermark(photo, PAYLOAD, KEY)
    assert marked.mode == "RGB" and marked.size == photo.size
    before, after = np.asarray(photo), np.asarray(marked)
    assert np.any(before != after)
    assert _psnr(before, after) > 38
    assert np.array_equal(np.asarray(embed_watermark(photo, PAYLOAD, KEY)), after)  # deterministic


def test_matches_the_model_contract_add_residual(photo: Image.Image) -> None:
    """The fast integer path equals add_residual at full resolution, up to rounding."""
    model = load_model("default")
    x = torch.from_numpy(np.array(photo)).permute(2, 0, 1).unsqueeze(0).float() / 255
    bits = torch.from_numpy(carried_bits(raw_bits(PAYLOAD, KEY), KEY).astype(np.float32)).unsqueeze(0)
    with torch.inference_mode():
        ref = add_residual(x, model.residual(to_internal(x, model.config.size), bits, model.carriers(KEY)), 1.5)
    expected = torch.round(ref[0] * 255).permute(1, 2, 0).numpy()
    got = np.asarray(embed_watermark(photo, PAYLOAD, KEY, strength=1.5, adaptive=False)).astype(np.float64)
    assert np.abs(got - expected).max() <= 1


def test_rgba_and_la_keep_alpha(photo: Image.Image) -> None:
    alpha = Image.linear_gradient("L").resize(photo.size)
    for mode in ("RGBA", "LA"):
        src = photo.convert(mode[:-1])
        src.putalpha(alpha)
        marked = embed_watermark(src, PAYLOAD, KEY)
        assert marked.mode == mode and marked.size == src.size
        assert np.array_equal(np.asarray(marked)[..., -1], np.asarray(src)[..., -1])
        assert np.any(np.asarray(marked)[..., :-1] != np.asarray(src)[..., :-1])


def test_gray_stays_gray(photo: Image.Image) -> None:
    gray = photo.convert("L")
    marked = embed_watermark(gray, PAYLOAD, KEY)
    assert marked.mode == "L" and _psnr(np.asarray(gray), np.asarray(marked)) > 38


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_sixteen_bit_keeps_precision(photo: Image.Image, mode: str) -> None:
    rng = np.random.default_rng(0)
    values = np.asarray(photo.convert("L")).astype(np.int64) * 257 + rng.integers(0, 200, photo.size[::-1])
    src = Image.fromarray(values.astype(np.uint16)).convert(mode) if mode != "I" else Image.fromarray(values.astype(np.int32))
    assert src.mode == mode
    marked = embed_watermark(src, PAYLOAD, KEY)
    assert marked.mode == mode and marked.size == src.size
    diff = np.asarray(marked).astype(np.int64) - np.asarray(src).astype(np.int64)
    assert np.any(diff % 257 != 0)  # residual added at 16-bit precision, not 8-bit steps
    assert _psnr(np.asarray(src), np.asarray(marked), 65535.0) > 38


def test_palette_becomes_rgb_and_cmyk_stays_cmyk(photo: Image.Image) -> None:
    assert embed_watermark(photo.convert("P"), PAYLOAD, KEY).mode == "RGB"
    transparent = photo.convert("P")
    transparent.info["transparency"] = 0
    assert embed_watermark(transparent, PAYLOAD, KEY).mode == "RGBA"
    cmyk = embed_watermark(photo.convert("CMYK"), PAYLOAD, KEY)
    assert cmyk.mode == "CMYK" and cmyk.size == photo.size


def test_any_aspect_ratio_and_minimum_size(photo: Image.Image) -> None:
    for size in ((128, 128), (1000, 128), (128, 700), (301, 1999)):
        marked = embed_watermark(photo.resize(size), PAYLOAD, KEY)
        assert marked.size == size
        decode_watermark(marked, KEY)
    for size in ((127, 500), (500, 100)):
        with pytest.raises(WatermarkError, match="too small"):
            embed_watermark(photo.resize(size), PAYLOAD, KEY)
        with pytest.raises(WatermarkError, match="too small"):
            decode_watermark(photo.resize(size), KEY)


def test_refusals(photo: Image.Image) -> None:
    with pytest.raises(WatermarkError, match="1-bit"):
        embed_watermark(photo.convert("1"), PAYLOAD, KEY)
    with pytest.raises(WatermarkError, match="mode F"):
        embed_watermark(photo.convert("F"), PAYLOAD, KEY)
    with pytest.raises(WatermarkError, match="8 bytes"):
        embed_watermark(photo, b"\x00" * 7, KEY)
    with pytest.raises(WatermarkError, match="strength"):
        embed_watermark(photo, PAYLOAD, KEY, strength=0.0)
    with pytest.raises(WatermarkError, match="key"):
        embed_watermark(photo, PAYLOAD, b"")
