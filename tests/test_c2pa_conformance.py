"""Verdicts that follow c2pa.Reader on files others made, re-signing, and broken manifests.

Third-party files come from tests/data/c2pa (see tests/data/SOURCES.md); every verdict is
checked against a real c2pa.Reader reading the same bytes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import c2pa
import pytest
from click.testing import CliRunner
from PIL import Image

from provmark.c2pa.status import IDENTITY, INGREDIENT, MALFORMED, TAMPERING, TRUST, meaning_of
from provmark.cli.main import main
from provmark.detect.verify import VerifyOptions, verify_file
from provmark.keys import KeyPaths, init_keys, load_keys, load_watermark_key
from provmark.metadata import Disclosure
from provmark.signing import SignOptions, Watermarking, sign_image

DATA = Path(__file__).parent / "data" / "c2pa"
BUNDLE = DATA / "test_cert_root_bundle.pem"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPaths:
    return init_keys(tmp_path_factory.mktemp("keys"), org="Conformance Org")


def reader_verdict(data: bytes, mime: str, *pems: Path) -> tuple[str, set[str]]:
    """c2pa.Reader's state and failure codes (active manifest and ingredients)."""
    config: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if pems:
        config["trust"] = {"user_anchors": "\n".join(p.read_text() for p in pems)}
    with c2pa.Reader(mime, io.BytesIO(data), context=c2pa.Context.from_dict(config)) as reader:
        results = reader.get_validation_results() or {}
        codes = {f["code"] for f in results.get("activeManifest", {}).get("failure", [])}
        for delta in results.get("ingredientDeltas") or []:
            codes |= {f["code"] for f in delta.get("validationDeltas", {}).get("failure", [])}
        return reader.get_validation_state(), codes


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    "code,meaning",
    [
        ("claimSignature.mismatch", TAMPERING),
        ("assertion.dataHash.mismatch", TAMPERING),
        ("assertion.hashedURI.mismatch", TAMPERING),
        ("assertion.fooHash.mismatch", TAMPERING),  # a hash binding added after this code was written
        ("claimSignature.missing", TAMPERING),
        ("signingCredential.untrusted", TRUST),
        ("signingCredential.ocsp.revoked", TRUST),
        ("timeStamp.mismatch", TRUST),
        ("claimSignature.outsideValidity", TRUST),
        ("cawg.x509.credential.untrusted", IDENTITY),
        ("cawg.ica.signature.mismatch", IDENTITY),
        ("ingredient.claimSignature.mismatch", INGREDIENT),
        ("ingredient.manifest.missing", INGREDIENT),
        ("algorithm.unsupported", MALFORMED),
        ("assertion.action.malformed", MALFORMED),
        ("claim.required.missing", MALFORMED),
    ],
)
def test_codes_are_classified_by_meaning(code: str, meaning: str) -> None:
    assert meaning_of(code) == meaning


def test_untrusted_cawg_identity_is_valid_and_intact(keys: KeyPaths) -> None:
    path = DATA / "C_with_CAWG_data.jpg"
    state, codes = reader_verdict(path.read_bytes(), "image/jpeg", BUNDLE)
    assert state == "Valid" and codes == {"cawg.x509.credential.untrusted"}
    report = verify_file(path, VerifyOptions(trust_pems=[BUNDLE.read_text()]))
    assert report.c2pa is not None and report.c2pa.state == state
    assert report.integrity == "intact" and not report.verified
    assert [(c.code, c.meaning, c.ingredient) for c in report.c2pa.checks] == [("cawg.x509.credential.untrusted", IDENTITY, None)]
    assert report.c2pa.identities  # the identity assertion's signer is named


def test_resign_of_a_cawg_file_is_intact_with_its_ingredient_listed(keys: KeyPaths, tmp_path: Path) -> None:
    src = DATA / "C_with_CAWG_data.jpg"
    result = CliRunner().invoke(main, ["sign", "--no-watermark", str(src), "--out", str(tmp_path), "--keys", str(keys.dir)])
    assert result.exit_code == 0, result.output
    data = (tmp_path / src.name).read_bytes()
    state, codes = reader_verdict(data, "image/jpeg", BUNDLE, keys.ca)
    report = verify_file(tmp_path / src.name, VerifyOptions(trust_pems=[BUNDLE.read_text(), keys.ca.read_text()]))
    assert report.c2pa is not None and report.c2pa.state == state
    assert report.integrity == "intact"
    assert codes <= {c.code for c in report.c2pa.checks}
    assert all(c.ingredient == src.name for c in report.c2pa.checks if c.meaning == IDENTITY)
    # an edit of existing content: opened + edited, a composite unless a source type is given
    assert report.c2pa.actions[:2] == ["c2pa.opened", "c2pa.edited"]
    assert report.c2pa.source_type_term == "compositeWithTrainedAlgorithmicMedia"
    again = CliRunner().invoke(main, ["sign", "--no-watermark", str(src), "--out", str(tmp_path / "dc"), "--keys", str(keys.dir),
                                      "--source-type", "digitalCreation"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert verify_file(tmp_path / "dc" / src.name).c2pa.source_type_term == "digitalCreation"


def test_remote_manifest_is_reported_with_its_url_and_fetched_only_on_request(tmp_path: Path) -> None:
    path = DATA / "libpng-test_with_url.png"
    with pytest.raises(c2pa.C2paError, match="remote"):
        reader_verdict(path.read_bytes(), "image/png")
    result = CliRunner().invoke(main, ["verify", str(path), "--json"])
    assert result.exit_code == 3 and "Traceback" not in result.output
    (report,) = json_lines(result.stdout)
    assert report["integrity"] == "unverifiable" and report["c2pa"]["problem"] == "remote"
    assert report["c2pa"]["remote_url"] == "http://localhost:5000/libpng-test.c2pa"
    assert report["c2pa"]["failures"] == []  # no made-up code
    table = CliRunner().invoke(main, ["verify", str(path)])
    assert "http://localhost:5000/libpng-test.c2pa" in table.stdout and "--fetch-remote" in table.stdout
    # with --fetch-remote the Reader tries the URL (nothing listens there): a clear reason, no crash
    fetched = CliRunner().invoke(main, ["verify", str(path), "--fetch-remote", "--json"])
    assert "Traceback" not in fetched.output
    (report,) = json_lines(fetched.stdout)
    assert report["c2pa"]["problem"] is not None and report["integrity"] != "tampered"


def test_unknown_algorithm_says_so(keys: KeyPaths, tmp_path: Path) -> None:
    path = DATA / "no_alg.jpg"
    with pytest.raises(c2pa.C2paError, match="algorithm"):
        reader_verdict(path.read_bytes(), "image/jpeg")
    report = verify_file(path)
    assert report.c2pa.problem == "unsupported-algorithm" and "algorithm" in report.c2pa.problem_detail
    assert report.integrity == "unverifiable" and not report.verified
    # re-signing it: a warning, and the unusable manifest is not made the parent
    result = CliRunner().invoke(main, ["sign", "--no-watermark", str(path), "--out", str(tmp_path), "--keys", str(keys.dir)])
    assert result.exit_code == 0 and "warning" in result.stderr and "algorithm" in result.stderr
    assert reader_verdict((tmp_path / path.name).read_bytes(), "image/jpeg", keys.ca)[0] == "Trusted"


def break_claim_signature(data: bytes) -> bytes:
    """Flip one byte inside the COSE signature of a signed JPEG's manifest."""
    broken = bytearray(data)
    at = broken.find(b"c2pa.signature")
    assert at > 0
    broken[at + 200] ^= 0xFF
    return bytes(broken)


def test_resign_on_a_broken_parent_warns_and_records_it(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    identity = load_keys(keys.dir).identity()
    signed = sign_image(photo_paths[0].read_bytes(), identity, SignOptions(Disclosure(generator="Gen 1")))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(break_claim_signature(signed.data))
    state, codes = reader_verdict(broken.read_bytes(), "image/jpeg", keys.ca)
    assert state == "Invalid" and "claimSignature.mismatch" in codes
    assert verify_file(broken).integrity == "tampered"

    result = CliRunner().invoke(main, ["sign", "--no-watermark", str(broken), "--out", str(tmp_path / "out"), "--keys", str(keys.dir)])
    assert result.exit_code == 0, result.output
    assert "warning" in result.stderr and "did not validate" in result.stderr and "claimSignature.mismatch" in result.stderr
    out = (tmp_path / "out" / "broken.jpg").read_bytes()
    state, codes = reader_verdict(out, "image/jpeg", keys.ca)
    report = verify_file(tmp_path / "out" / "broken.jpg", VerifyOptions(trust_pems=[keys.ca.read_text()]))
    assert report.c2pa.state == state and codes <= {c.code for c in report.c2pa.checks}
    assert report.integrity == "intact"  # the new manifest holds; the broken history is listed apart
    # the parent's broken signature, recorded in its ingredient assertion, is listed with it
    assert any(c.ingredient == "broken.jpg" and c.code == "claimSignature.mismatch" for c in report.c2pa.checks)
    with c2pa.Reader("image/jpeg", io.BytesIO(out)) as reader:
        actions = next(a for a in reader.get_active_manifest()["assertions"] if a["label"].startswith("c2pa.actions"))
    edited = next(a for a in actions["data"]["actions"] if a["action"] == "c2pa.edited")
    assert "did not validate" in edited["description"] and "claimSignature.mismatch" in edited["description"]


def test_corrupt_manifest_bytes_never_stop_a_batch(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    """One flipped byte at many places of a JPEG's manifest: each file gets a report, no traceback."""
    data = sign_image(photo_paths[1].read_bytes(), load_keys(keys.dir).identity(), SignOptions()).data
    start = data.find(b"\xff\xeb")
    length = int.from_bytes(data[start + 2 : start + 4], "big")
    paths = []
    for i, offset in enumerate(range(start + 4, start + 2 + length, 97)):
        corrupt = bytearray(data)
        corrupt[offset] ^= 0xFF
        paths.append(tmp_path / f"c{i:03d}.jpg")
        paths[-1].write_bytes(bytes(corrupt))
    result = CliRunner().invoke(main, ["verify", "--json", "--trust", str(keys.ca), *map(str, paths)])
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    reports = json_lines(result.stdout)
    assert len(reports) == len(paths)  # every file verified (pixels decode; the manifest is what broke)
    assert all(r["integrity"] in ("tampered", "unverifiable", "intact") for r in reports)
    assert all(r["ai_generated"] is True for r in reports)  # the XMP disclosure still counts
    assert sum(r["integrity"] == "intact" and r["verified"] for r in reports) < len(reports)


def test_png_with_a_corrupt_manifest_chunk_keeps_its_pixels_checked(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.open(photo_paths[2]).save(png, format="PNG")
    key = load_watermark_key(keys.watermark_key)
    signed = sign_image(png.getvalue(), load_keys(keys.dir).identity(), SignOptions(), watermark=Watermarking(key=key)).data
    at = signed.find(b"caBX")
    corrupt = bytearray(signed)
    corrupt[at + 300] ^= 0xFF
    path = tmp_path / "c.png"
    path.write_bytes(bytes(corrupt))
    with pytest.raises((SyntaxError, OSError)):  # Pillow alone refuses the file (chunk checksum)
        Image.open(path).load()
    report = verify_file(path, VerifyOptions(trust_pems=[keys.ca.read_text()], watermark_key=key))
    assert report.c2pa is not None and not report.verified and report.integrity != "intact"
    assert report.watermark is not None and report.watermark.detected  # the pixels were checked
    assert report.ai_generated is True
    assert report.image_error is not None and "caBX" in report.image_error


def test_manifest_store_without_its_active_manifest_is_one_clear_line(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    """A flipped byte in an assertion's CBOR leaves c2pa-python's manifest store without its
    active manifest: its Python API raises KeyError, provmark reports it and goes on."""
    data = sign_image(photo_paths[0].read_bytes(), load_keys(keys.dir).identity(), SignOptions()).data
    at = data.find(b"gentries")  # inside the cawg.training-mining assertion's CBOR
    corrupt = bytearray(data)
    corrupt[at + 3] ^= 0xFF
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(bytes(corrupt))
    with pytest.raises(KeyError):
        with c2pa.Reader("image/jpeg", io.BytesIO(bytes(corrupt))) as reader:
            reader.get_active_manifest()
    result = CliRunner().invoke(main, ["verify", "--json", str(path), str(photo_paths[1])])
    assert "Traceback" not in result.output and result.exit_code == 3
    first, second = json_lines(result.stdout)
    assert first["c2pa"]["problem"] == "corrupt" and first["integrity"] != "intact" and not first["verified"]
    assert first["ai_generated"] is True  # the disclosure metadata still counts
    assert second["path"] == str(photo_paths[1])
