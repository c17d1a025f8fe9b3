"""``exiftool -validate`` finds nothing provmark introduced in signed JPEG, PNG, WebP, TIFF and AVIF files.

Each signed file's warnings are compared with its input's own: provmark may leave an input's
problems as they were (or fix them), never add one. The one tag exiftool does not know in a
signed TIFF, 0xcd41, is the C2PA manifest itself (written there by c2pa-python, as the C2PA
specification asks), and is left out of the comparison.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from provmark.cli.main import main
from provmark.keys import KeyPaths, init_keys
from provmark.metadata import Disclosure
from provmark.metadata.exif import build_exif, read_exif_disclosure
from provmark.metadata.exif_block import Entry, ExifBlock

EXIFTOOL = shutil.which("exiftool")
C2PA_TIFF_TAG = "Unknown IFD0 tag 0xcd41"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPaths:
    return init_keys(tmp_path_factory.mktemp("keys"), org="Metadata Org")


def warnings(path: Path) -> set[str]:
    assert EXIFTOOL, "exiftool is required (scripts/setup.sh installs it)"
    out = subprocess.run([EXIFTOOL, "-validate", "-warning", "-a", "-s3", str(path)], capture_output=True, text=True, check=True)
    lines = {line.strip() for line in out.stdout.splitlines()}
    return {line for line in lines if line and not line[0].isdigit() and line != "OK" and C2PA_TIFF_TAG not in line}


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif"), ("AVIF", "avif")])
@pytest.mark.parametrize("camera_exif", [False, True])
def test_signed_files_validate(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path, fmt: str, ext: str, camera_exif: bool) -> None:
    src = tmp_path / f"in.{ext}"
    image = Image.open(photo_paths[3]).convert("RGB")
    params = {}
    if camera_exif:  # a camera-style block: signed rationals, LONG, UNDEFINED, little-endian
        block = ExifBlock(order="<")
        block.set_ascii("0th", 0x010F, "CameraMaker")
        block.ifds["exif"][0x9204] = Entry(10, 1, struct.pack("<ii", -1, 3))  # ExposureCompensation, SRATIONAL
        block.ifds["exif"][0x8832] = Entry(4, 1, struct.pack("<I", 200))  # RecommendedExposureIndex, LONG
        block.set_bytes("exif", 0x9000, b"0231")
        params["exif"] = block.tobytes()
    image.save(src, format=fmt, **params)
    result = CliRunner().invoke(main, ["sign", "--no-watermark", str(src), "--out", str(tmp_path / "out"), "--keys", str(keys.dir),
                                       "--creator", "Zoë Ørsted", "--generator", "Gen 4"])  # fmt: skip
    assert result.exit_code == 0, result.output
    signed = tmp_path / "out" / src.name
    assert warnings(signed) <= warnings(src), f"introduced by provmark: {warnings(signed) - warnings(src)}"
    tags = _exiftool_tags(signed)
    assert "trainedAlgorithmicMedia" in tags.get("UserComment", "")
    if camera_exif:
        assert tags["Make"] == "CameraMaker" and tags["ExposureCompensation"] == "-1/3"  # kept, signed
    exif = Image.open(signed).getexif()
    assert exif[0x0131] == "Gen 4"


def _exiftool_tags(path: Path) -> dict[str, str]:
    out = subprocess.run([EXIFTOOL, "-s", "-EXIF:all", str(path)], capture_output=True, text=True, check=True)
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.stdout.splitlines())}


def test_user_comment_follows_the_block_byte_order() -> None:
    disclosure = Disclosure(generator="Gen 5")
    for order in ("<", ">"):
        original = ExifBlock(order=order)
        original.set_ascii("0th", 0x010F, "Maker")
        raw = build_exif(original.tobytes(), disclosure)
        assert raw[6:8] == (b"II" if order == "<" else b"MM")  # kept, not rewritten
        read = read_exif_disclosure(raw)
        assert read is not None and read.user_comment is not None and "Gen 5" in read.user_comment
        comment = ExifBlock.parse(raw).ifds["exif"][0x9286]
        assert comment.type == 7 and comment.value.startswith(b"UNICODE\0")
        assert comment.value[8:10] == ("D".encode("utf-16-le" if order == "<" else "utf-16-be"))


def test_unreadable_exif_is_replaced_not_fatal() -> None:
    raw = build_exif(b"MM\x00*\x00\x00\xff\xff garbage", Disclosure())
    assert read_exif_disclosure(raw) is not None
    assert io.BytesIO(raw).read(6) == b"Exif\x00\x00"
