"""provmark sign: real C2PA manifests (read back with c2pa.Reader), XMP read with exiftool, options."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import c2pa
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image, ImageChops

from provmark.c2pa import callback_identity
from provmark.cli.main import main
from provmark.errors import SigningError
from provmark.keys import KeyPaths, init_keys, load_keys
from provmark.metadata import Disclosure
from provmark.signing import SignOptions, sign_image

EXIFTOOL = shutil.which("exiftool")
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPaths:
    return init_keys(tmp_path_factory.mktemp("keys"), org="Test Org")


def read_c2pa(data: bytes, mime: str, ca: Path | None, manifest: bytes | None = None) -> c2pa.Reader:
    config: dict = {"verify": {"remote_manifest_fetch": False}}
    if ca is not None:
        config["trust"] = {"user_anchors": ca.read_text()}
    return c2pa.Reader(mime, io.BytesIO(data), manifest, context=c2pa.Context.from_dict(config))


def exiftool_json(path: Path) -> dict:
    assert EXIFTOOL, "exiftool is required (scripts/setup.sh installs it)"
    out = subprocess.run([EXIFTOOL, "-j", "-XMP:all", "-EXIF:all", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def as_format(src: Path, fmt: str, dest: Path) -> Path:
    Image.open(src).convert("RGB").save(dest, format=fmt)
    return dest


@pytest.mark.parametrize("fmt,ext,mime", [("JPEG", "jpg", "image/jpeg"), ("PNG", "png", "image/png"), ("WEBP", "webp", "image/webp")])
def test_sign_cli_embeds_trusted_manifest_and_disclosure(
    keys: KeyPaths, photo_paths: list[Path], tmp_path: Path, fmt: str, ext: str, mime: str
) -> None:
    src = as_format(photo_paths[0], fmt, tmp_path / f"in.{ext}")
    out = tmp_path / "out"
    args = ["sign", "--no-watermark", str(src), "--out", str(out), "--keys", str(keys.dir), "--generator", "Flux 1.1",
            "--creator", "Ada Lovelace", "--prompt", "a red fox", "--training-mining", "notAllowed"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    signed = out / src.name
    data = signed.read_bytes()

    reader = read_c2pa(data, mime, keys.ca)
    assert reader.get_validation_state() == "Trusted"
    manifest = reader.get_active_manifest()
    assertions = {a["label"]: a["data"] for a in manifest["assertions"]}
    created = assertions["c2pa.actions.v2"]["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == TRAINED
    assert created["softwareAgent"] == {"name": "Flux", "version": "1.1"}
    assert assertions["cawg.training-mining"]["entries"]["cawg.ai_generative_training"]["use"] == "notAllowed"
    assert "stds.schema-org.CreativeWork" not in assertions  # C2PA 2.x: creator goes in cawg.metadata
    assert assertions["cawg.metadata"]["dc:creator"] == ["Ada Lovelace"]
    assert assertions["cawg.metadata"]["schema:creator"]["@type"] == "schema:Person"
    assert manifest["title"] == src.name
    assert "Test Org" in manifest["signature_info"]["issuer"]
    assert "thumbnail" not in manifest  # off by default

    tags = exiftool_json(signed)
    assert tags["DigitalSourceType"] == TRAINED
    assert tags["DataMining"] == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED"
    assert tags["Creator"] == "Ada Lovelace"
    assert tags["CreatorTool"] == "Flux 1.1"
    assert tags["AISystemUsed"] == "Flux"
    assert tags["AIPromptInformation"] == "a red fox"
    exif = Image.open(signed).getexif()
    assert exif[0x0131] == "Flux 1.1" and exif[0x013B] == "Ada Lovelace"
    assert "AI-generated" in exif[0x010E]

    # The hard binding covers the metadata: the same file without a trust anchor is valid but untrusted.
    untrusted = read_c2pa(data, mime, None)
    assert untrusted.get_validation_state() == "Valid"


def test_sign_in_memory_pil_image_and_bytes(keys: KeyPaths, photo_paths: list[Path]) -> None:
    identity = load_keys(keys.dir).identity()
    image = Image.new("RGB", (320, 200), (40, 120, 200))
    signed = sign_image(image, identity, SignOptions(Disclosure(generator="Gen 2")), format="png", title="gen.png")
    assert signed.format == "PNG" and signed.data.startswith(b"\x89PNG")
    assert read_c2pa(signed.data, "image/png", keys.ca).get_validation_state() == "Trusted"
    decoded = Image.open(io.BytesIO(signed.data)).convert("RGB")
    assert ImageChops.difference(decoded, image).getbbox() is None  # PNG: pixels untouched

    again = sign_image(photo_paths[1].read_bytes(), identity, SignOptions())
    assert again.format == "JPEG"
    assert read_c2pa(again.data, "image/jpeg", keys.ca).get_validation_state() == "Trusted"


def test_callback_signer_keeps_key_outside(keys: KeyPaths, photo_paths: list[Path]) -> None:
    private = serialization.load_pem_private_key(keys.key.read_bytes(), None)
    calls = []

    def kms_sign(data: bytes) -> bytes:
        calls.append(len(data))
        return private.sign(data, ec.ECDSA(hashes.SHA256()))

    identity = callback_identity(keys.chain.read_bytes(), kms_sign)
    signed = sign_image(photo_paths[0].read_bytes(), identity)
    assert calls, "the callback was never asked to sign"
    assert read_c2pa(signed.data, "image/jpeg", keys.ca).get_validation_state() == "Trusted"


def test_failing_callback_signer_is_a_signing_error(keys: KeyPaths, photo_paths: list[Path]) -> None:
    def unavailable(data: bytes) -> bytes:
        raise ConnectionError("HSM offline")

    identity = callback_identity(keys.chain.read_bytes(), unavailable)
    with pytest.raises(SigningError) as err:
        sign_image(photo_paths[0].read_bytes(), identity)
    assert "\n" not in str(err.value) and "signing failed" in str(err.value)


def test_label_draws_visible_caption(keys: KeyPaths, photo_paths: list[Path]) -> None:
    identity = load_keys(keys.dir).identity()
    src = Image.open(photo_paths[2]).convert("RGB")
    buf = io.BytesIO()
    src.save(buf, "PNG")
    plain = sign_image(buf.getvalue(), identity)
    labelled = sign_image(buf.getvalue(), identity, SignOptions(label="AI-generated by Gen"))
    a = Image.open(io.BytesIO(plain.data)).convert("RGB")
    b = Image.open(io.BytesIO(labelled.data)).convert("RGB")
    box = ImageChops.difference(a, b).getbbox()
    assert box is not None, "no caption drawn"
    # the caption sits in the bottom-left corner and covers a small part of the image
    assert box[0] < 10 and box[3] > a.height - 10 and (box[2] - box[0]) * (box[3] - box[1]) < a.width * a.height / 4


def test_sidecar_leaves_image_bytes_untouched(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sign", "--no-watermark", str(photo_paths[0]), "--out", str(out), "--keys", str(keys.dir), "--sidecar"])
    assert result.exit_code == 0, result.output
    copy = out / photo_paths[0].name
    sidecar = copy.with_suffix(".c2pa")
    assert copy.read_bytes() == photo_paths[0].read_bytes()
    reader = read_c2pa(copy.read_bytes(), "image/jpeg", keys.ca, manifest=sidecar.read_bytes())
    assert reader.get_validation_state() == "Trusted"
    other = read_c2pa(photo_paths[1].read_bytes(), "image/jpeg", keys.ca, manifest=sidecar.read_bytes())
    assert other.get_validation_state() == "Invalid"


def test_existing_manifest_becomes_parent_ingredient(keys: KeyPaths, photo_paths: list[Path]) -> None:
    identity = load_keys(keys.dir).identity()
    first = sign_image(photo_paths[0].read_bytes(), identity, SignOptions(Disclosure(generator="Base 1")))
    second = sign_image(first.data, identity, SignOptions(Disclosure(generator="Upscaler 3", source_type="compositeWithTrainedAlgorithmicMedia")))
    assert second.had_parent and not first.had_parent
    reader = read_c2pa(second.data, "image/jpeg", keys.ca)
    assert reader.get_validation_state() == "Trusted"
    manifest = reader.get_active_manifest()
    parents = [i for i in manifest["ingredients"] if i["relationship"] == "parentOf"]
    assert len(parents) == 1 and parents[0]["active_manifest"]
    actions = [a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")][0]["data"]["actions"]
    assert [a["action"] for a in actions][:2] == ["c2pa.opened", "c2pa.edited"]
    assert actions[1]["softwareAgent"]["name"] == "Upscaler"


def test_thumbnail_flag_adds_thumbnail(keys: KeyPaths, photo_paths: list[Path]) -> None:
    identity = load_keys(keys.dir).identity()
    without = sign_image(photo_paths[0].read_bytes(), identity, SignOptions())
    with_thumb = sign_image(photo_paths[0].read_bytes(), identity, SignOptions(thumbnail=True))
    manifest = read_c2pa(with_thumb.data, "image/jpeg", keys.ca).get_active_manifest()
    assert "thumbnail" in manifest
    assert len(with_thumb.manifest_store) > len(without.manifest_store) + 5000


def test_own_encrypted_key_and_chain(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path, encrypted_key: Callable[[Path, bytes], Path]) -> None:
    encrypted = encrypted_key(keys.key, b"s3cret")
    base = ["sign", "--no-watermark", str(photo_paths[0]), "--out", str(tmp_path / "out"), "--cert", str(keys.chain), "--key", str(encrypted)]
    runner = CliRunner()
    ok = runner.invoke(main, base, env={"PROVMARK_KEY_PASSWORD": "s3cret"})
    assert ok.exit_code == 0, ok.output
    data = (tmp_path / "out" / photo_paths[0].name).read_bytes()
    assert read_c2pa(data, "image/jpeg", keys.ca).get_validation_state() == "Trusted"


@pytest.mark.parametrize("fmt,mode,mime", [("TIFF", "RGB", "image/tiff"), ("GIF", "P", "image/gif"), ("PNG", "RGBA", "image/png"), ("JPEG", "L", "image/jpeg")])
def test_other_formats_and_modes(keys: KeyPaths, photo_paths: list[Path], fmt: str, mode: str, mime: str) -> None:
    image = Image.open(photo_paths[3]).convert("RGB")
    image = image.convert("P", palette=Image.Palette.ADAPTIVE) if mode == "P" else image.convert(mode)
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize(image.size))
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    signed = sign_image(buf.getvalue(), load_keys(keys.dir).identity(), SignOptions(label="AI-generated"))
    assert signed.format == fmt
    assert read_c2pa(signed.data, mime, keys.ca).get_validation_state() == "Trusted"
    out = Image.open(io.BytesIO(signed.data))
    assert out.size == image.size and out.mode == mode
    if mode == "RGBA":
        assert out.getchannel("A").getextrema() == image.getchannel("A").getextrema()
    if fmt == "TIFF":
        assert b"trainedAlgorithmicMedia" in out.info["xmp"]


def test_jpeg_without_pixel_changes_keeps_its_compressed_data(keys: KeyPaths, photo_paths: list[Path]) -> None:
    src = photo_paths[1].read_bytes()
    signed = sign_image(src, load_keys(keys.dir).identity(), SignOptions(Disclosure(generator="Gen 5")))
    sos = src.rfind(b"\xff\xda")
    assert src[sos:] in signed.data  # same scan data, byte for byte: no re-encoding loss
    assert read_c2pa(signed.data, "image/jpeg", keys.ca).get_validation_state() == "Trusted"
    tags = Image.open(io.BytesIO(signed.data))
    assert b"trainedAlgorithmicMedia" in tags.info["xmp"] and tags.getexif()[0x0131] == "Gen 5"
    # signing it again replaces, not stacks, the metadata and the old manifest
    again = sign_image(signed.data, load_keys(keys.dir).identity(), SignOptions(Disclosure(generator="Gen 6")))
    assert again.had_parent
    assert again.data.count(b"http://ns.adobe.com/xap/1.0/\x00") == 1 and again.data.count(b"Exif\x00\x00") == 1
    assert read_c2pa(again.data, "image/jpeg", keys.ca).get_validation_state() == "Trusted"
