"""provmark verify: trust, tampering, verdicts, JSON lines, table, exit codes, bad input."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from provmark.cli.main import main
from provmark.detect.verify import VerifyOptions, verify_file
from provmark.keys import KeyPaths, init_keys, load_keys
from provmark.metadata import Disclosure
from provmark.signing import SignOptions, sign_image


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPaths:
    return init_keys(tmp_path_factory.mktemp("keys"), org="Verify Org")


@pytest.fixture(scope="module")
def signed(keys: KeyPaths, photo_paths: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("signed") / "signed.jpg"
    result = sign_image(photo_paths[0].read_bytes(), load_keys(keys.dir).identity(), SignOptions(Disclosure(generator="Gen 1")))
    out.write_bytes(result.data)
    return out


def flip_pixel_byte(src: Path, dest: Path) -> Path:
    """Flip one bit in the entropy-coded scan data of a JPEG (after SOS), not in any metadata."""
    data = bytearray(src.read_bytes())
    sos = data.rfind(b"\xff\xda")
    pos = sos + (len(data) - sos) // 2
    while data[pos] == 0xFF or data[pos - 1] == 0xFF:
        pos += 1
    data[pos] ^= 0x01
    dest.write_bytes(bytes(data))
    Image.open(dest).load()  # still a decodable JPEG
    return dest


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_trusted_manifest_verifies(keys: KeyPaths, signed: Path) -> None:
    result = CliRunner().invoke(main, ["verify", str(signed), "--trust", str(keys.ca), "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json_lines(result.output)
    for key in ("path", "ai_generated", "integrity", "c2pa", "metadata"):
        assert key in report
    assert report["ai_generated"] is True and report["integrity"] == "intact" and report["verified"] is True
    assert report["c2pa"]["state"] == "Trusted" and report["c2pa"]["signer"] == "Verify Org C2PA Signer"
    assert report["c2pa"]["actions"] == ["c2pa.created"]
    assert report["c2pa"]["training_mining"]["cawg.data_mining"] == "notAllowed"
    assert report["metadata"]["xmp"]["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    assert report["metadata"]["exif"]["software"] == "Gen 1"
    assert report["watermark"] is None


def test_untrusted_signer_is_valid_but_not_verified(signed: Path) -> None:
    result = CliRunner().invoke(main, ["verify", str(signed), "--json"])
    assert result.exit_code == 3
    (report,) = json_lines(result.output)
    assert report["c2pa"]["state"] == "Valid" and report["integrity"] == "intact"
    assert "signingCredential.untrusted" in report["c2pa"]["failures"]


def test_flipped_pixel_byte_is_tampered(keys: KeyPaths, signed: Path, tmp_path: Path) -> None:
    bad = flip_pixel_byte(signed, tmp_path / "flipped.jpg")
    result = CliRunner().invoke(main, ["verify", str(bad), "--trust", str(keys.ca), "--json"])
    assert result.exit_code == 3
    (report,) = json_lines(result.output)
    assert report["integrity"] == "tampered" and report["c2pa"]["state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in report["c2pa"]["failures"]
    assert report["verified"] is False
    # The AI claim still stands: nobody forges one to their disadvantage.
    assert report["ai_generated"] is True


def test_unsigned_photo_and_camera_manifest(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    plain = verify_file(photo_paths[2])
    assert plain.integrity == "unsigned" and plain.ai_generated is None and plain.c2pa is None
    camera = tmp_path / "camera.jpg"
    opts = SignOptions(Disclosure(generator="CamFirmware 2", source_type="digitalCapture"))
    camera.write_bytes(sign_image(photo_paths[2].read_bytes(), load_keys(keys.dir).identity(), opts).data)
    report = verify_file(camera, VerifyOptions(trust_pems=[keys.ca.read_text()]))
    assert report.verified and report.ai_generated is False


def test_sidecar_is_found_next_to_the_image(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    CliRunner().invoke(main, ["sign", "--no-watermark", str(photo_paths[3]), "--out", str(out), "--keys", str(keys.dir), "--sidecar"])
    report = verify_file(out / photo_paths[3].name, VerifyOptions(trust_pems=[keys.ca.read_text()]))
    assert report.c2pa is not None and report.c2pa.source == "sidecar" and report.verified


def test_table_output_and_batch_with_failures(keys: KeyPaths, signed: Path, photo_paths: list[Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    result = CliRunner().invoke(main, ["verify", str(signed), str(junk), str(photo_paths[1]), "--trust", str(keys.ca)])
    assert result.exit_code == 1  # one input could not be read
    assert "Traceback" not in result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["file", "c2pa", "integrity", "ai_generated"]
    assert any(str(signed) in line and "Trusted" in line and "intact" in line for line in lines)
    assert any(str(photo_paths[1]) in line and "unsigned" in line and "unknown" in line for line in lines)
    assert "1 of 2 verified" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("provmark: error:")]
    assert len(errors) == 1 and str(junk) in errors[0]


def test_bad_trust_anchor_is_one_line(signed: Path, tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("hello")
    for trust in (bad, tmp_path / "missing.pem"):
        result = CliRunner().invoke(main, ["verify", str(signed), "--trust", str(trust)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.stderr.count("provmark: error:") == 1


def test_c2pa_only_verify_does_not_import_torch(keys: KeyPaths, signed: Path) -> None:
    code = (
        "import sys\n"
        "from provmark.cli.main import main\n"
        f"try:\n    main(['verify', {str(signed)!r}, '--trust', {str(keys.ca)!r}])\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_reencoded_copy_has_no_manifest(keys: KeyPaths, signed: Path, tmp_path: Path) -> None:
    stripped = tmp_path / "stripped.png"
    Image.open(io.BytesIO(signed.read_bytes())).save(stripped)
    report = verify_file(stripped, VerifyOptions(trust_pems=[keys.ca.read_text()]))
    assert report.integrity == "unsigned" and report.ai_generated is None
    shutil.copy(signed, tmp_path / "copy.jpg")
    assert verify_file(tmp_path / "copy.jpg", VerifyOptions(trust_pems=[keys.ca.read_text()])).verified


def test_manifest_store_entry_reads_as_recovered_manifest(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    from provmark.c2pa import ManifestStore, read_manifest

    signed = sign_image(photo_paths[1].read_bytes(), load_keys(keys.dir).identity())
    store = ManifestStore(tmp_path / "store")
    payload = store.new_payload()
    store.put(payload, signed.manifest_store)
    assert store.get(payload) == signed.manifest_store and store.get(b"\0" * 8) is None
    recovered = read_manifest(store.get(payload), "application/c2pa", trust_pems=[keys.ca.read_text()], source="soft-binding")
    # Alone, the store cannot match any asset's bytes; its signature and trust still count.
    assert recovered is not None and recovered.state == "Trusted" and recovered.failures == []
    assert recovered.source_type_term == "trainedAlgorithmicMedia"
    untrusted = read_manifest(store.get(payload), "application/c2pa", source="soft-binding")
    assert untrusted.state == "Valid" and untrusted.failures == ["signingCredential.untrusted"]
