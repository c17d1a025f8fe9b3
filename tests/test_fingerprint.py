"""Content fingerprint of signed pixels: legitimate copies match, other photos do not (torch-free)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from provmark.c2pa.fingerprint import FINGERPRINT_ALG, MATCH_DISTANCE, THUMB_SIDE, Fingerprint
from provmark.c2pa.store import ManifestStore


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


def _crop(image: Image.Image, fw: float, fh: float, px: float = 0.5, py: float = 0.5) -> Image.Image:
    w, h = round(image.width * fw), round(image.height * fh)
    x, y = round((image.width - w) * px), round((image.height - h) * py)
    return image.crop((x, y, x + w, y + h))


COPIES = {
    "jpeg75": lambda im: _jpeg(im, 75),
    "resize0.5": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "crop80centre": lambda im: _crop(im, 0.8, 0.8),
    "crop70area_offcentre": lambda im: _crop(im, 0.84, 0.84, 0.0, 0.0),
    "band": lambda im: _crop(im, 1.0, 0.6, 0.5, 0.3),
    "mirror": ImageOps.mirror,
    "white_border": lambda im: ImageOps.expand(im, border=im.width // 10, fill=(255, 255, 255)),
    "rotated8": lambda im: im.rotate(8, resample=Image.Resampling.BICUBIC),
    "pad_to_square": lambda im: ImageOps.pad(im, (max(im.size), max(im.size)), color=(0, 0, 0)),
    "gray_png": lambda im: im.convert("L"),
}


@pytest.fixture(scope="module")
def photos(photo_paths: list[Path]) -> list[Image.Image]:
    return [Image.open(p).convert("RGB") for p in photo_paths]


@pytest.mark.parametrize("name", sorted(COPIES))
def test_legitimate_copies_match(photos: list[Image.Image], name: str) -> None:
    for image in photos:
        check = Fingerprint.of(image).compare(COPIES[name](image))
        assert check.matches, (name, check.distance)


def test_other_photos_do_not_match(photos: list[Image.Image]) -> None:
    for i, signed in enumerate(photos):
        fingerprint = Fingerprint.of(signed)
        for j, other in enumerate(photos):
            if i != j:
                check = fingerprint.compare(other)
                assert not check.matches and check.distance > MATCH_DISTANCE, (i, j, check.distance)
                # a mild copy of another photo is still another photo
                assert not fingerprint.compare(_jpeg(_crop(other, 0.9, 0.9), 80)).matches


def test_alpha_and_odd_modes(photos: list[Image.Image]) -> None:
    rgba = photos[0].convert("RGBA")
    assert Fingerprint.of(rgba).compare(photos[0]).matches
    assert Fingerprint.of(photos[0].convert("P")).compare(photos[0]).matches
    tiny = photos[0].resize((24, 16))
    assert Fingerprint.of(photos[0]).compare(tiny).distance <= 16  # tiny copies still compare, less sharply


def test_dict_round_trip_and_rejects_malformed(photos: list[Image.Image]) -> None:
    fingerprint = Fingerprint.of(photos[1])
    data = json.loads(json.dumps(fingerprint.to_dict()))
    assert data["alg"] == FINGERPRINT_ALG and Fingerprint.from_dict(data) == fingerprint
    assert len(fingerprint.thumbnail) == THUMB_SIDE * THUMB_SIDE
    assert Fingerprint.from_dict({**data, "alg": "other.alg"}) is None
    assert Fingerprint.from_dict({**data, "thumbnail": "!!"}) is None
    assert Fingerprint.from_dict({**data, "thumbnail": "AAAA"}) is None  # wrong size
    assert Fingerprint.from_dict({**data, "width": 0}) is None
    assert Fingerprint.from_dict({"alg": FINGERPRINT_ALG}) is None


def test_store_keeps_fingerprint_beside_manifest(photos: list[Image.Image], tmp_path: Path) -> None:
    store = ManifestStore(tmp_path / "manifests")
    payload, old = bytes(range(8)), bytes(range(8, 16))
    fingerprint = Fingerprint.of(photos[2])
    store.put(payload, b"manifest-bytes", fingerprint)
    store.put(old, b"old-entry")  # written before fingerprints existed
    assert store.get(payload) == b"manifest-bytes" and store.fingerprint(payload) == fingerprint
    assert store.get(old) == b"old-entry" and store.fingerprint(old) is None
    assert store.ids() == [payload, old]
    (tmp_path / "manifests" / f"{payload.hex()}.json").write_text("{not json")
    with pytest.raises(Exception, match="fingerprint"):
        store.fingerprint(payload)


def test_recovered_manifest_counts_only_when_the_content_matches() -> None:
    from provmark.c2pa.reader import ManifestSummary
    from provmark.detect.report import VerificationReport, WatermarkReport
    from provmark.detect.verdict import ai_verdict

    manifest = ManifestSummary(
        state="Trusted", source="soft-binding", digital_source_type="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    )
    verdicts = {}
    for content, distance in (("match", 2), ("differs", 24), ("unchecked", None)):
        mark = WatermarkReport(detected=True, payload="00" * 8, p_value=1e-12, manifest_recovered=True, content=content,
                               content_distance=distance, content_threshold=MATCH_DISTANCE)  # fmt: skip
        report = VerificationReport(path="x", format="PNG", integrity="unsigned", ai_generated=None, c2pa=manifest, watermark=mark)
        verdicts[content] = ai_verdict(report)
    assert verdicts["match"][0] is True and verdicts["match"][1][0].startswith("content matches the signed image")
    assert verdicts["differs"][0] is None
    assert verdicts["differs"][1][0].startswith("watermark found, but the content differs from the signed image: possible copied watermark")
    assert verdicts["unchecked"][0] is None and verdicts["unchecked"][1][0].startswith("content unchecked")
