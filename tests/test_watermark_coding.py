"""Payload coding, keyed scrambling and calibrated detection (no model needed)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from provmark.errors import WatermarkError
from provmark.watermark.calibration import (
    count_light_subsets,
    hard_bound,
    max_hard_distance,
    p_value,
    soft_bound,
)
from provmark.watermark.codec import CODE_BITS, decode_candidates, encode_payload
from provmark.watermark.decision import detect, raw_bits
from provmark.watermark.scramble import scrambler_for

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def _logits(bits: np.ndarray, scale: float = 3.0) -> np.ndarray:
    return (bits.astype(np.float64) * 2.0 - 1.0) * scale


def test_codeword_shape_and_parity() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        payload = rng.bytes(8)
        bits = encode_payload(payload)
        assert bits.shape == (CODE_BITS,) and set(np.unique(bits)) <= {0, 1}
        assert bits.sum() % 2 == 0
        assert np.packbits(bits[:64]).tobytes() == payload


@pytest.mark.parametrize("payload", [b"", b"1234567", b"123456789", "12345678"])
def test_payload_must_be_eight_bytes(payload: object) -> None:
    with pytest.raises(WatermarkError, match="8 bytes"):
        encode_payload(payload)  # type: ignore[arg-type]


def test_bch_corrects_ten_errors_and_not_eleven() -> None:
    rng = np.random.default_rng(1)
    payload = rng.bytes(8)
    bits = encode_payload(payload)
    for errors in range(11):
        noisy = bits.copy()
        noisy[rng.choice(127, errors, replace=False)] ^= 1
        found = decode_candidates(_logits(noisy), chase_bits=0)
        assert [c.payload for c in found] == [payload]
    # Past t, plain hard decoding either fails or lands on another codeword, never the payload.
    misses = 0
    for _ in range(50):
        noisy = bits.copy()
        noisy[rng.choice(127, 11, replace=False)] ^= 1
        misses += payload not in [c.payload for c in decode_candidates(_logits(noisy), chase_bits=0)]
    assert misses == 50


def test_chase_decoding_fixes_errors_on_weak_bits() -> None:
    rng = np.random.default_rng(2)
    payload = rng.bytes(8)
    logits = _logits(encode_payload(payload))
    wrong = rng.choice(127, 14, replace=False)
    logits[wrong] *= -0.1  # 14 errors, 4 more than t, all on the least confident bits
    assert payload not in [c.payload for c in decode_candidates(logits, chase_bits=0)]
    assert payload in [c.payload for c in decode_candidates(logits)]


def test_scrambler_is_a_keyed_bijection() -> None:
    s = scrambler_for(KEY)
    assert sorted(s.position.tolist()) == list(range(128))
    assert scrambler_for(KEY).mask.tolist() == s.mask.tolist()
    other = scrambler_for(OTHER_KEY)
    assert s.position.tolist() != other.position.tolist() and s.mask.tolist() != other.mask.tolist()
    assert 40 < int(s.mask.sum()) < 88
    bits = encode_payload(b"provmark")
    raw = s.scramble(bits)
    assert (s.descramble_logits(_logits(raw)) > 0).astype(np.uint8).tolist() == bits.tolist()


def test_short_key_is_refused() -> None:
    with pytest.raises(WatermarkError, match="key"):
        scrambler_for(b"short")


def test_hard_bound_values() -> None:
    assert hard_bound(0) == 2.0**-64
    assert hard_bound(8) == pytest.approx(sum(math.comb(128, i) for i in range(9)) / 2.0**64)
    assert max_hard_distance(1e-6) == 8  # p(8) = 1.7e-7, p(9) = 2.2e-6 (with the factor 2)


def test_subset_count_is_an_upper_bound_and_tight() -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        w = rng.exponential(1.0, 14)
        budget = float(rng.uniform(0.5, 4.0))
        exact = sum(1 for r in range(15) for e in itertools.combinations(w, r) if sum(e) <= budget)
        counted = count_light_subsets(w, budget)
        assert exact <= counted <= exact * 1.25 + 2


def test_soft_bound_equals_hard_bound_for_equal_confidences() -> None:
    for d in range(12):
        assert soft_bound(np.full(128, 2.5), 2.5 * d) == pytest.approx(hard_bound(d), rel=1e-9)


def test_exact_logits_decode_with_tiny_p_value() -> None:
    payload = bytes.fromhex("0123456789abcdef")
    result = detect(_logits(raw_bits(payload, KEY)), KEY)
    assert result.detected and result.payload == payload
    assert result.errors_corrected == 0 and result.p_value < 1e-18
    assert len(result.bit_confidence) == 128 and min(result.bit_confidence) > 0.9


def test_noisy_logits_still_decode() -> None:
    rng = np.random.default_rng(4)
    payload = rng.bytes(8)
    clean = _logits(raw_bits(payload, KEY))
    hits = sum(detect(clean + rng.normal(0, 2.0, 128), KEY).payload == payload for _ in range(100))
    assert hits >= 90  # 6.7% raw bit errors


def test_wrong_key_never_detects() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        result = detect(_logits(raw_bits(rng.bytes(8), KEY)), rng.bytes(32))
        assert not result.detected and result.payload is None


def test_random_logits_never_detect() -> None:
    rng = np.random.default_rng(6)
    p_values = []
    for i in range(3000):
        logits = rng.normal(0, 1, 128) * rng.exponential(2.0, 128 if i % 2 else 1)
        result = detect(logits, KEY)
        assert not result.detected and result.payload is None
        p_values.append(result.p_value)
    # The bound is conservative: p-values under the null are not concentrated near zero.
    assert np.mean(np.array(p_values) < 0.01) < 0.01


def test_several_views_pay_a_bonferroni_factor() -> None:
    rng = np.random.default_rng(7)
    payload = rng.bytes(8)
    clean = _logits(raw_bits(payload, KEY))
    one = detect(clean, KEY)
    two = detect(np.stack([rng.normal(0, 1, 128), clean]), KEY)
    assert two.detected and two.payload == payload
    assert two.p_value == pytest.approx(2 * one.p_value)
    assert two.bit_confidence == one.bit_confidence  # confidences of the view that decoded
    for _ in range(300):
        result = detect(rng.normal(0, 2, (3, 128)), KEY)
        assert not result.detected and result.payload is None
