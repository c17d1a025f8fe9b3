"""Image loading: formats by content, clear errors, metadata kept, atomic writes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from provmark.errors import InputImageError, OutputError
from provmark.io import atomic_write, estimate_jpeg_quality, load_image


def test_loads_jpeg_with_quality_estimate(photo_paths: list[Path], tmp_path: Path) -> None:
    im = Image.open(photo_paths[0]).convert("RGB")
    for q in (50, 75, 95):
        out = tmp_path / f"q{q}.jpg"
        im.save(out, quality=q)
        loaded = load_image(out)
        assert loaded.format == "JPEG"
        assert abs(loaded.jpeg_quality - q) <= 1
        assert estimate_jpeg_quality(loaded.image) == loaded.jpeg_quality


def test_format_comes_from_content_not_extension(photo_paths: list[Path], tmp_path: Path) -> None:
    wrong = tmp_path / "really_a_png.jpg"
    Image.open(photo_paths[0]).save(wrong, format="PNG")
    assert load_image(wrong).format == "PNG"


def test_keeps_icc_and_exif(photo_paths: list[Path], tmp_path: Path) -> None:
    im = Image.open(photo_paths[0])
    exif = Image.Exif()
    exif[0x010E] = "a description"
    out = tmp_path / "meta.jpg"
    im.save(out, exif=exif.tobytes(), icc_profile=b"\0" * 128)
    loaded = load_image(out)
    assert loaded.icc_profile == b"\0" * 128
    assert loaded.exif and b"a description" in loaded.exif


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"hello, I am text", "not an image"),
    ],
)
def test_bad_bytes_give_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    with pytest.raises(InputImageError, match=message) as info:
        load_image(bad)
    assert "\n" not in str(info.value)


def test_truncated_and_missing(photo_paths: list[Path], tmp_path: Path) -> None:
    data = photo_paths[0].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputImageError, match="truncated"):
        load_image(cut)
    with pytest.raises(InputImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(InputImageError, match="folder"):
        load_image(tmp_path)


def test_too_large_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("L", (4000, 3000)).save(big)
    with pytest.raises(InputImageError, match="too large"):
        load_image(big, max_pixels=10_000_000)


def test_unsupported_format(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, format="PCX")
    with pytest.raises(InputImageError, match="unsupported image format PCX"):
        load_image(buf.getvalue())


def test_atomic_write_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write(b"partial")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_mode_and_unwritable(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    with atomic_write(target, mode=0o600) as handle:
        handle.write(b"x")
    assert (target.stat().st_mode & 0o777) == 0o600
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OutputError, match="cannot write"):
        with atomic_write(blocker / "child.bin") as handle:
            handle.write(b"x")


def test_encode_like_keeps_format_quality_and_metadata(photo_paths: list[Path], tmp_path: Path) -> None:
    from provmark.io import encode_like

    src = tmp_path / "src.jpg"
    exif = Image.Exif()
    exif[0x0131] = "camera firmware"
    Image.open(photo_paths[1]).save(src, quality=80, exif=exif.tobytes(), icc_profile=b"\1" * 64)
    original = load_image(src)
    data = encode_like(original.image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), original)
    again = load_image(data)
    assert again.format == "JPEG"
    assert abs(again.jpeg_quality - 80) <= 1
    assert again.icc_profile == b"\1" * 64
    assert b"camera firmware" in again.exif
    for fmt in ("PNG", "WEBP"):
        path = tmp_path / f"src.{fmt.lower()}"
        Image.open(photo_paths[1]).convert("RGBA").save(path, format=fmt)
        assert load_image(encode_like(load_image(path).image, load_image(path))).format == fmt
