"""Durable content credentials: sign embeds a watermark, stores the manifest; verify of a
stripped copy decodes the watermark and recovers the manifest from the store.

The recovery test needs a trained ``default`` watermark model (as tests/test_watermark_roundtrip.py).
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import c2pa
import pytest
from click.testing import CliRunner
from PIL import Image

from provmark.c2pa.manifest import SOFT_BINDING_ALG
from provmark.c2pa.store import ManifestStore
from provmark.cli.main import main
from provmark.keys import KeyPaths, init_keys

from forgery import forged_copy


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPaths:
    return init_keys(tmp_path_factory.mktemp("keys"), org="Durable Org")


@pytest.fixture(scope="module")
def signed(keys: KeyPaths, photo_paths: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(main, ["sign", str(photo_paths[0]), "--out", str(out), "--keys", str(keys.dir), "--generator", "Gen 4"])
    assert result.exit_code == 0, result.output
    return out / photo_paths[0].name


def test_sign_records_soft_binding_and_stores_manifest(keys: KeyPaths, signed: Path) -> None:
    context = c2pa.Context.from_dict({"trust": {"user_anchors": keys.ca.read_text()}})
    reader = c2pa.Reader("image/jpeg", io.BytesIO(signed.read_bytes()), context=context)
    assert reader.get_validation_state() == "Trusted"  # the hard binding covers the marked pixels
    manifest = reader.get_active_manifest()
    assertions = {a["label"]: a["data"] for a in manifest["assertions"]}
    actions = [a["action"] for a in assertions["c2pa.actions.v2"]["actions"]]
    assert actions == ["c2pa.created", "c2pa.watermarked"]
    binding = assertions["c2pa.soft-binding"]
    assert binding["alg"] == SOFT_BINDING_ALG
    payload = base64.b64decode(binding["blocks"][0]["value"])
    assert len(payload) == 8
    stored = ManifestStore.beside_keys(keys.dir).get(payload)
    assert stored is not None and manifest["label"].encode() in stored


def test_stripped_copy_recovers_manifest_from_store(keys: KeyPaths, signed: Path, tmp_path: Path) -> None:
    stripped = tmp_path / "stripped.png"
    Image.open(signed).convert("RGB").save(stripped)  # pixels only: no EXIF, XMP or C2PA
    result = CliRunner().invoke(main, ["verify", str(stripped), "--keys", str(keys.dir), "--json"])
    assert result.exit_code == 3, result.output  # not verified: these bytes are not signed
    report = json.loads(result.stdout.splitlines()[0])
    assert report["metadata"] == {"xmp": None, "exif": None}
    assert report["watermark"]["detected"] is True and report["watermark"]["p_value"] <= 1e-6
    assert report["watermark"]["manifest_recovered"] is True
    assert report["c2pa"]["source"] == "soft-binding" and report["c2pa"]["state"] == "Trusted"
    assert report["c2pa"]["soft_bindings"][0]["value"] == report["watermark"]["payload"]
    assert report["integrity"] == "unsigned" and report["ai_generated"] is True
    assert report["watermark"]["content"] == "match" and report["watermark"]["content_distance"] == 0

    original = CliRunner().invoke(main, ["verify", str(signed), "--keys", str(keys.dir), "--json"])
    assert original.exit_code == 0, original.output
    embedded = json.loads(original.stdout.splitlines()[0])
    assert embedded["c2pa"]["source"] == "embedded" and embedded["watermark"]["matches_manifest"] is True


def test_no_watermark_flag_and_unmarked_image(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sign", "--no-watermark", str(photo_paths[1]), "--out", str(out), "--keys", str(keys.dir)])
    assert result.exit_code == 0
    report = json.loads(
        CliRunner().invoke(main, ["verify", str(out / photo_paths[1].name), "--keys", str(keys.dir), "--json"]).stdout
    )
    assert report["verified"] is True
    assert report["watermark"]["detected"] is False and report["c2pa"]["soft_bindings"] == []
    assert report["c2pa"]["actions"] == ["c2pa.created"]


def test_watermark_without_key_source_is_a_usage_error(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    args = ["sign", str(photo_paths[0]), "--out", str(tmp_path), "--cert", str(keys.chain), "--key", str(keys.key)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--no-watermark" in result.stderr


def test_image_too_small_for_a_watermark_still_verifies(keys: KeyPaths, tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (96, 64), (200, 30, 30)).save(tiny)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["sign", "--no-watermark", str(tiny), "--out", str(out), "--keys", str(keys.dir)]).exit_code == 0
    result = CliRunner().invoke(main, ["verify", str(out / "tiny.png"), "--keys", str(keys.dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verified"] is True
    assert report["watermark"]["detected"] is False and "too small" in report["watermark"]["error"]


def test_content_bound_soft_binding(keys: KeyPaths, signed: Path, photo_paths: list[Path], tmp_path: Path) -> None:
    """Copies of the signed pixels match; a copied watermark and old store entries do not."""
    image = Image.open(signed).convert("RGB")
    w, h = image.size
    copies = {
        "jpeg75.jpg": image,
        "crop80.png": image.crop((w // 10, h // 10, w - w // 10, h - h // 10)),
        "half.png": image.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
    }
    for name, copy in copies.items():
        copy.save(tmp_path / name, quality=75)
        report = _verify_json(keys, tmp_path / name)
        if name == "half.png" and not report["watermark"]["detected"]:
            continue  # 256 px is at the watermark's own limit; the fingerprint side is in test_fingerprint.py
        assert report["watermark"]["manifest_recovered"] is True, name
        assert report["watermark"]["content"] == "match" and report["watermark"]["content_distance"] <= 6, name
        assert report["ai_generated"] is True, name
        assert any(line.startswith("content matches the signed image") for line in report["evidence"])

    recovered = 0
    for host in photo_paths[1:]:
        forged = tmp_path / f"forged-{host.stem}.png"
        forged.write_bytes(forged_copy(signed, photo_paths[0], host))
        report = _verify_json(keys, forged)
        assert report["ai_generated"] is not True, host.name  # never from a copied watermark
        if report["watermark"]["manifest_recovered"]:
            recovered += 1
            assert report["watermark"]["content"] == "differs" and report["watermark"]["content_distance"] > 6
            assert any("possible copied watermark" in line for line in report["evidence"])
    # With today's watermark the copied residual carries the mark onto some photo, so the content
    # check is what stops the forgery. (A watermark that resists copying would make this 0: then
    # drop this line; test_fingerprint.py checks the verdict logic on its own.)
    assert recovered >= 1

    stripped = tmp_path / "stripped.png"
    image.save(stripped)
    payload = _verify_json(keys, stripped)["watermark"]["payload"]
    entry = ManifestStore.beside_keys(keys.dir).root / f"{payload}.json"
    saved = entry.read_bytes()
    entry.unlink()  # as written before fingerprints existed
    try:
        report = _verify_json(keys, stripped)
    finally:
        entry.write_bytes(saved)
    assert report["watermark"]["manifest_recovered"] is True and report["watermark"]["content"] == "unchecked"
    assert report["ai_generated"] == "unknown"
    assert any(line.startswith("content unchecked") for line in report["evidence"])


def _verify_json(keys: KeyPaths, path: Path) -> dict:
    result = CliRunner().invoke(main, ["verify", str(path), "--keys", str(keys.dir), "--json"])
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout.splitlines()[0])
