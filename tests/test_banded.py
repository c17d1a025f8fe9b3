"""The banded full-resolution path gives the same marked pixels as the one-shot upsample + dither."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from provmark.models import load_model
from provmark.models.embedding import to_internal, upsample_residual
from provmark.watermark.banded import BAND_ROWS, apply_residual, internal_view
from provmark.watermark.pixels import add_to_planes, internal_image
from provmark.watermark.planes import merge_image, split_image, pixel_array


def _residual(image: Image.Image) -> tuple[object, torch.Tensor]:
    net = load_model("default")
    planes = split_image(image)
    bits = torch.from_numpy(np.random.default_rng(0).integers(0, 2, (1, net.config.num_bits)).astype(np.float32))
    with torch.inference_mode():
        return planes, net.residual(internal_image(planes, net.config.size), bits, net.carriers(bytes(range(32))))


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA", "P", "CMYK"])
def test_banded_matches_one_shot(photo_paths: list[Path], mode: str) -> None:
    height = 3 * BAND_ROWS + 10  # several bands and a short last one
    image = Image.open(photo_paths[0]).convert("RGB").resize((700, height)).convert(mode)
    planes, residual = _residual(image)
    with torch.inference_mode():
        expected = np.asarray(merge_image(planes, add_to_planes(planes, upsample_residual(residual, height, 700) * 1.3)))
        got = apply_residual(planes, residual, 1.3, image)
    assert got.mode == ("RGB" if mode == "P" else mode) and got.size == image.size
    diff = np.abs(np.asarray(got).astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-4  # float rounding of the two-pass upsample, at most
    assert (np.asarray(got) != np.asarray(image.convert(got.mode))).mean() > 0.1  # and the mark is there


def test_in_place_marks_the_image_itself(photo_paths: list[Path]) -> None:
    image = Image.open(photo_paths[1]).convert("RGB")
    before = np.asarray(image).copy()
    planes, residual = _residual(image)
    with torch.inference_mode():
        copy = apply_residual(planes, residual, 1.0, image)
        assert copy is not image and np.array_equal(np.asarray(image), before)  # the input is kept
        same = apply_residual(split_image(image), residual, 1.0, image, in_place=True)
    assert same is image and np.array_equal(np.asarray(same), np.asarray(copy))


def test_internal_view_is_the_round_trip(photo_paths: list[Path]) -> None:
    _, residual = _residual(Image.open(photo_paths[2]).convert("RGB"))
    for height, width in ((300, 1000), (1024, 683), (256, 256), (130, 4000)):
        direct = to_internal(upsample_residual(residual, height, width), residual.shape[-1])
        assert torch.allclose(internal_view(residual, height, width), direct, atol=1e-6)


def test_pixel_array_equals_asarray(photo_paths: list[Path]) -> None:
    for mode in ("RGB", "L", "RGBA"):
        image = Image.open(photo_paths[3]).convert(mode).resize((300, 700))
        assert np.array_equal(pixel_array(image, rows=64), np.asarray(image))
