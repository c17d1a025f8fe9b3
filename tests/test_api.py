"""The front door on in-memory images: sign -> verify, embed -> decode, mark_image -> attribute (no mocks)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import provmark
from provmark.keys import KeyPaths


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPaths:
    return provmark.init_keys(tmp_path_factory.mktemp("keys"), org="API Org")


@pytest.fixture(scope="module")
def photo(photo_paths: list[Path]) -> Image.Image:
    return Image.open(photo_paths[0]).convert("RGB")


def test_signer_signs_pixels_and_verify_reads_the_bytes_once(keys: KeyPaths, photo: Image.Image) -> None:
    signer = provmark.Signer(keys.dir)
    data = signer.sign(photo, prompt="a quiet street", model="MyGen 2.1")
    assert data.startswith(b"\x89PNG")
    report = provmark.verify(data, keys=keys.dir)
    assert (report.ai_generated, report.integrity, report.verified) == (True, "intact", True)
    assert report.xmp is not None and report.xmp.ai_prompt == "a quiet street"
    assert report.xmp.ai_system == "MyGen" and report.xmp.ai_system_version == "2.1"
    assert report.watermark is not None and report.watermark.detected and report.watermark.matches_manifest


def test_stripped_pixels_find_their_manifest_through_the_watermark(keys: KeyPaths, photo: Image.Image) -> None:
    signed = provmark.Signer(keys.dir).sign_image(np.asarray(photo), format="JPEG")
    assert signed.format == "JPEG" and signed.watermark_payload is not None
    pixels = np.asarray(Image.open(io.BytesIO(signed.data)).convert("RGB"))  # metadata gone
    report = provmark.Verifier(keys.dir).verify(pixels)
    assert report.integrity == "unsigned" and report.ai_generated is True
    assert report.c2pa is not None and report.c2pa.source == "soft-binding"
    assert report.watermark is not None and report.watermark.payload == signed.watermark_payload.hex()


def test_unsigned_photo_without_keys_is_unknown(photo_paths: list[Path]) -> None:
    report = provmark.verify(photo_paths[1])
    assert (report.ai_generated, report.integrity, report.verified) == (None, "unsigned", False)
    assert report.watermark is None


def test_embed_then_decode_with_every_key_form(keys: KeyPaths, photo: Image.Image) -> None:
    marked = provmark.embed(np.asarray(photo), "0123456789abcdef", keys.dir)
    assert marked.size == photo.size and 0.8 <= marked.info["provmark_strength"] <= 1.6
    key_bytes = provmark.load_keys(keys.dir).watermark_key
    for key in (keys.dir, keys.watermark_key, key_bytes):
        result = provmark.decode(marked, key)
        assert result.detected and result.payload == bytes.fromhex("0123456789abcdef")
    assert not provmark.decode(marked, b"\x07" * 32).detected


def test_bad_payload_is_one_clear_error(keys: KeyPaths, photo: Image.Image) -> None:
    with pytest.raises(provmark.ProvmarkError, match="16 hex digits"):
        provmark.embed(photo, "0123", keys.dir)


def test_mark_image_then_attribute(tmp_path: Path, photo: Image.Image, photo_paths: list[Path]) -> None:
    path = tmp_path / "catalog.db"
    with provmark.Registry.open(path, create=True) as registry:
        registry.add([provmark.ConceptSpec("red-fox", owner="Agency"), provmark.ConceptSpec("old-town")])
        marked = provmark.mark_image(photo, registry, "old-town")
        report = provmark.attribute(marked, registry)
        assert [hit.name for hit in report.concepts] == ["old-town"]
        assert report.concepts[0].p_value <= 1e-6 and report.concepts[0].region == "full"
    encoded = io.BytesIO()
    marked.save(encoded, "JPEG", quality=90)
    assert [hit.name for hit in provmark.attribute(encoded.getvalue(), path).concepts] == ["old-town"]
    assert provmark.attribute(photo_paths[2], path).concepts == []
