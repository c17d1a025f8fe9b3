"""Concept channel: a fixed keyed pattern per concept code, read back by correlation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from provmark.errors import WatermarkError
from provmark.watermark.concept_channel import channel_logits, channel_pattern, embed_channel, match_codes
from provmark.watermark.decision import detect, raw_bits

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
PAYLOADS = [bytes([i]) * 8 for i in range(8)]


@pytest.fixture(scope="module")
def photo(photo_paths) -> Image.Image:
    with Image.open(photo_paths[0]) as im:
        return im.convert("RGB")


@pytest.mark.parametrize("size", [(32, 32), (128, 128), (300, 200)])
def test_marked_image_matches_its_code_only(photo: Image.Image, size: tuple[int, int]) -> None:
    image = photo.resize(size)
    marked = embed_channel(image, PAYLOADS[3], KEY, amplitude=8)
    match = match_codes(marked, KEY, PAYLOADS)
    assert match.index == 3 and match.p_value < 1e-6
    assert max(z for i, z in enumerate(match.z) if i != 3) < match.z[3] / 2


def test_logits_carry_the_raw_bits_and_decode_with_the_product_detector(photo: Image.Image) -> None:
    marked = embed_channel(photo.resize((128, 128)), PAYLOADS[5], KEY, amplitude=12)
    logits = channel_logits(marked, KEY)
    assert ((logits > 0) == raw_bits(PAYLOADS[5], KEY).astype(bool)).mean() > 0.9
    result = detect(logits, KEY)
    assert result.detected and result.payload == PAYLOADS[5]


def test_unmarked_and_other_key_attribute_nothing(photo_paths) -> None:
    for path in photo_paths:
        with Image.open(path) as im:
            image = im.convert("RGB")
        assert match_codes(image, KEY, PAYLOADS).index is None
        marked = embed_channel(image, PAYLOADS[1], OTHER_KEY, amplitude=8)
        assert match_codes(marked, KEY, PAYLOADS).index is None


def test_pattern_is_balanced_and_keyed() -> None:
    a, b = channel_pattern(PAYLOADS[0], KEY), channel_pattern(PAYLOADS[0], OTHER_KEY)
    assert a.shape == (32, 32, 3) and set(np.unique(a)) == {-1.0, 1.0}
    assert abs(a.mean()) < 0.1 and abs((a * b).mean()) < 0.1


def test_amplitude_and_size_are_checked(photo: Image.Image) -> None:
    with pytest.raises(WatermarkError):
        embed_channel(photo, PAYLOADS[0], KEY, amplitude=0)
    with pytest.raises(WatermarkError):
        embed_channel(photo.resize((16, 16)), PAYLOADS[0], KEY, amplitude=8)
