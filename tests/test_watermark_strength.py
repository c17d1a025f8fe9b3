"""Closed-loop strength and dithered quantisation: the two things that make weak hosts decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from provmark.models import load_model
from provmark.models.embedding import to_internal, upsample_residual
from provmark.models.strength import DEFAULT_POLICY, StrengthPolicy, choose_strength, predicted_ber
from provmark.watermark.decision import raw_bits
from provmark.watermark.marking import embed_watermark_with_strength
from provmark.watermark.pixels import add_to_planes, internal_image
from provmark.watermark.planes import split_image
from provmark.watermark.pilots import carried_bits

KEY = bytes.fromhex("3c" * 32)
PAYLOAD = bytes.fromhex("0123456789abcdef")


def _inputs(image: Image.Image) -> tuple:
    net = load_model("default")
    bits = torch.from_numpy(carried_bits(raw_bits(PAYLOAD, KEY), KEY).astype(np.float32))
    planes = split_image(image)
    carriers = net.carriers(KEY)
    with torch.inference_mode():
        small = internal_image(planes, net.config.size)
        full = upsample_residual(net.residual(small, bits[None], carriers), image.height, image.width)
        marked = (small + to_internal(full, net.config.size)).clamp(0, 1)
    return net, small, marked, bits, carriers


def test_dither_keeps_residuals_under_half_a_level() -> None:
    """Rounding would drop a +0.3-level residual entirely; the ordered dither keeps its mean."""
    planes = split_image(Image.new("RGB", (256, 256), (120, 120, 120)))
    out = add_to_planes(planes, torch.full((1, 1, 256, 256), 0.3 / 255))
    added = out.astype(np.float64) - 120
    assert set(np.unique(added)) == {0.0, 1.0}
    assert abs(added.mean() - 0.3) < 0.02
    assert abs(added[:4, :4].mean() - 0.3) < 0.07  # already right within one 4x4 tile


def test_chosen_strength_is_the_smallest_that_meets_the_target(photo_paths: list[Path]) -> None:
    with Image.open(photo_paths[1]) as im:
        image = im.convert("RGB")
    net, small, marked, bits, carriers = _inputs(image)
    aspect = image.width / image.height
    with torch.inference_mode():
        chosen = choose_strength(net, small, marked, bits, carriers, aspect)
        ber = predicted_ber(net, small, marked, bits, carriers, torch.tensor([chosen - 0.05, chosen]), aspect)
    assert DEFAULT_POLICY.minimum <= chosen <= DEFAULT_POLICY.maximum
    assert float(ber[1].max()) <= DEFAULT_POLICY.target_ber or chosen == DEFAULT_POLICY.maximum
    assert float(ber[0].max()) > DEFAULT_POLICY.target_ber or chosen == DEFAULT_POLICY.minimum
    strict = StrengthPolicy(target_ber=DEFAULT_POLICY.target_ber / 10)
    with torch.inference_mode():
        assert choose_strength(net, small, marked, bits, carriers, aspect, strict) >= chosen


def test_predicted_error_falls_with_strength(photo_paths: list[Path]) -> None:
    with Image.open(photo_paths[2]) as im:
        image = im.convert("RGB")
    net, small, marked, bits, carriers = _inputs(image)
    with torch.inference_mode():
        ber = predicted_ber(net, small, marked, bits, carriers, torch.tensor([0.5, 1.0, 2.0]), image.width / image.height)
    assert ber.shape == (3, len(DEFAULT_POLICY.views))
    assert torch.all(ber[0] >= ber[1]) and torch.all(ber[1] >= ber[2])


def test_strength_depends_on_the_image_and_scales_with_the_user_strength(photo_paths: list[Path]) -> None:
    images = []
    for path in photo_paths:
        with Image.open(path) as im:
            images.append(im.convert("RGB"))
    flat = Image.new("RGB", (512, 384), (128, 128, 128))
    applied = [embed_watermark_with_strength(im, PAYLOAD, KEY)[1] for im in [*images, flat]]
    assert all(DEFAULT_POLICY.minimum <= s <= DEFAULT_POLICY.maximum for s in applied)
    assert len(set(applied)) > 1  # not one fixed number
    doubled = embed_watermark_with_strength(images[0], PAYLOAD, KEY, strength=2.0)[1]
    assert doubled == pytest.approx(2.0 * applied[0])
    fixed = embed_watermark_with_strength(images[0], PAYLOAD, KEY, strength=1.3, adaptive=False)[1]
    assert fixed == 1.3
