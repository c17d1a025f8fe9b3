"""Keyed variants of concept codes (collusion resistance): scrambling, reading, recording."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from provmark.concepts.codebook import CodeBook
from provmark.concepts.marker import MarkJob, MarkOptions, mark_file
from provmark.concepts.records import ConceptSpec, ImageRecord
from provmark.concepts.registry import Registry
from provmark.detect.attribution import attribute_image
from provmark.errors import WatermarkError
from provmark.watermark.codec import encode_payload
from provmark.watermark.decision import detect, raw_bits
from provmark.watermark.marking import embed_watermark, payload_logits, watermark_logits
from provmark.watermark.scramble import scrambler_for

KEY = bytes(range(32))
PAYLOAD = bytes.fromhex("0123456789abcdef")


def test_variant_scramble_round_trips_and_changes_about_half_the_raw_bits() -> None:
    codeword = encode_payload(PAYLOAD)
    plain = raw_bits(PAYLOAD, KEY)
    assert np.array_equal(raw_bits(PAYLOAD, KEY, 0), plain)
    words = [raw_bits(PAYLOAD, KEY, v) for v in range(1, 33)]
    for variant, word in enumerate(words, start=1):
        back = scrambler_for(KEY, variant).descramble_logits(word.astype(np.float64) * 2 - 1)
        assert np.array_equal((back > 0).astype(np.uint8), codeword)
        assert 40 <= int((word != plain).sum()) <= 88  # an unrelated word, not a few flips
    assert len({w.tobytes() for w in words}) == 32
    other = raw_bits(PAYLOAD, bytes(range(1, 33)), 3)
    assert 40 <= int((other != words[2]).sum()) <= 88  # the variant mask is keyed
    # the plain decoder (variant 0) does not read a variant's word, even when it is read perfectly
    assert not detect(words[4].astype(np.float64) * 8 - 4, KEY).detected
    with pytest.raises(WatermarkError):
        scrambler_for(KEY, -1)


def test_variant_marks_decode_with_the_registry_and_with_nothing_else(tmp_path: Path, photo_paths: list[Path]) -> None:
    with Registry.create(tmp_path / "r.db", variants=16) as reg, Registry.create(tmp_path / "o.db") as other:
        reg.add([ConceptSpec(f"c{i}") for i in range(6)])
        other.add([ConceptSpec(f"c{i}") for i in range(6)])
        book, foreign = CodeBook.from_registry(reg), CodeBook.from_registry(other)
        assert book.variants == 16 and book.codes.shape == (6, 128)
        plain_only = CodeBook(book.indexes, book.codes)  # a reader that knows variant 0 only
        image = Image.open(photo_paths[0]).convert("RGB")
        payload = reg.payload(reg.require("c4"))
        assert np.array_equal(book.codes[4] ^ book.masks[11], raw_bits(payload, reg.watermark_key, 11))
        marked = embed_watermark(image, payload, reg.watermark_key, variant=11)
        logits = payload_logits(marked, reg.watermark_key)
        found = book.match(logits, tests=2)
        assert found.index == 4 and found.p_value <= 1e-6
        assert plain_only.match(logits, tests=2).p_value > 1e-6  # wrong variant count: nothing
        assert foreign.match(logits, tests=2).p_value > 1e-6  # another registry's key: nothing
        noise = np.random.default_rng(0).normal(0, 1, (200, 128))
        assert min(book.match(n, tests=2).p_value for n in noise) > 1e-6
        hits, _ = attribute_image(marked, reg, book)
        assert [h.name for h in hits] == ["c4"]


def test_mark_records_a_random_variant_per_image_and_old_registries_still_open(
    tmp_path: Path, photo_paths: list[Path]
) -> None:
    with Registry.create(tmp_path / "r.db", variants=8) as reg:
        reg.add([ConceptSpec("alice")])
        payload = reg.payload(reg.require("alice"))
        options = MarkOptions(variants=8)
        seen = set()
        for i in range(4):
            src, out = str(photo_paths[i % len(photo_paths)]), str(tmp_path / f"{i}.jpg")
            job = MarkJob(f"{i}.jpg", src, out, ("alice",), (0,), (payload,))
            result = mark_file(job, reg.watermark_key, options)
            assert result.record is not None, result.error
            reg.record_image(result.record)
            variant = result.record.variants.get("full", 0)
            seen.add(variant)
            read = watermark_logits(Image.open(tmp_path / f"{i}.jpg"), reg.watermark_key)[0, :128] > 0  # the recorded variant is embedded
            assert np.mean(read == raw_bits(payload, reg.watermark_key, variant)) > 0.9
        stored = [r.variants.get("full", 0) for r in reg.images_of("alice")]
        assert len(stored) == 4 and set(stored) == seen and all(0 <= v < 8 for v in stored)
    # a registry made before variants: no meta entry, no column; reads as one variant, gains the column on write
    conn = sqlite3.connect(tmp_path / "r.db")
    conn.execute("DELETE FROM meta WHERE key = 'variants'")
    conn.execute("ALTER TABLE image_concepts DROP COLUMN variant")
    conn.commit()
    conn.close()
    with Registry.open(tmp_path / "r.db") as old:
        assert old.variants == 1 and CodeBook.from_registry(old).variants == 1
        assert [r.variants for r in old.images_of("alice")] == [{}] * 4
        old.record_image(ImageRecord("s", str(tmp_path / "x.jpg"), "a", "b", 1, 1, 1, 1, "full", {"full": "alice"}))
        assert len(list(old.images_of("alice"))) == 5
