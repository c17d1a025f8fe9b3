"""``provmark embed`` / ``provmark decode``: outputs, exit codes, one-line errors, batch failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from provmark.cli.main import main
from provmark.watermark.keyfile import new_watermark_key, write_watermark_key

PAYLOAD = "0123456789abcdef"


@pytest.fixture()
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "watermark.key"
    write_watermark_key(path, new_watermark_key())
    return path


def _run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_embed_then_decode(photo_paths: list[Path], tmp_path: Path, key_file: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    with Image.open(photo_paths[0]) as im:
        im.save(src / "photo.png")
        exif = Image.Exif()
        exif[0x010E] = "provmark test photo"  # ImageDescription
        im.save(src / "meta.jpg", quality=92, exif=exif.tobytes(), icc_profile=b"\x00" * 128)
        size = im.size
    out = tmp_path / "out"
    result = _run("embed", src / "photo.png", src / "meta.jpg", "--out", out, "--payload", PAYLOAD, "--key", key_file)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["meta.jpg", "photo.png"]
    with Image.open(out / "photo.png") as png, Image.open(out / "meta.jpg") as jpg:
        assert png.format == "PNG" and png.size == size
        assert jpg.format == "JPEG" and jpg.size == size
        assert jpg.info.get("icc_profile") == b"\x00" * 128
        assert jpg.getexif().get(0x010E) == "provmark test photo"
    result = _run("decode", out / "photo.png", out / "meta.jpg", "--key", key_file, "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(out / "photo.png"), str(out / "meta.jpg")]
    for line in lines:
        assert set(line) >= {"path", "detected", "payload", "p_value", "bit_confidence_mean", "errors_corrected"}
        assert line["detected"] is True and line["payload"] == PAYLOAD and line["p_value"] <= 1e-6
    assert result.exit_code == 0


def test_decode_unmarked_is_negative(photo_paths: list[Path], key_file: Path) -> None:
    result = _run("decode", photo_paths[1], "--key", key_file)
    assert result.exit_code == 3
    assert "no" in result.stdout.splitlines()[1] and "p-value" in result.stdout.splitlines()[0]


@pytest.mark.parametrize("payload", ["0123", "zz23456789abcdef", "0123456789abcdef00"])
def test_bad_payload_is_one_line_and_writes_nothing(photo_paths: list[Path], tmp_path: Path, key_file: Path, payload: str) -> None:
    result = _run("embed", photo_paths[0], "--out", tmp_path / "out", "--payload", payload, "--key", key_file)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--payload" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_missing_key_is_one_line(photo_paths: list[Path], tmp_path: Path) -> None:
    for args in (("embed", photo_paths[0], "--out", tmp_path / "out", "--payload", PAYLOAD), ("decode", photo_paths[0])):
        result = _run(*args, "--key", tmp_path / "nokey")
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [f"provmark: error: {tmp_path / 'nokey'}: no such watermark key file (create one with 'provmark keys init')"]
        assert result.stdout == ""


def test_batch_goes_on_after_failures(photo_paths: list[Path], tmp_path: Path, key_file: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(photo_paths[0].read_bytes()[:2000])
    out = tmp_path / "out"
    result = _run("embed", bad, truncated, photo_paths[2], "--out", out, "--payload", PAYLOAD, "--key", key_file)
    assert result.exit_code == 1
    assert [p.name for p in out.iterdir()] == [photo_paths[2].name]
    assert "2 of 3 file(s) failed" in result.stderr and "Traceback" not in result.output
    result = _run("decode", bad, out / photo_paths[2].name, "--key", key_file, "--json")
    assert result.exit_code == 1 and len(result.stdout.splitlines()) == 1


def test_refuses_to_overwrite_an_input(photo_paths: list[Path], tmp_path: Path, key_file: Path) -> None:
    src = tmp_path / "a.jpg"
    shutil.copy(photo_paths[0], src)
    before = src.read_bytes()
    result = _run("embed", src, "--out", tmp_path, "--payload", PAYLOAD, "--key", key_file)
    assert result.exit_code == 1 and "overwrite" in result.stderr
    assert src.read_bytes() == before


def test_embed_reports_the_closed_loop_strength_and_can_fix_it(photo_paths: list[Path], tmp_path: Path, key_file: Path) -> None:
    src = photo_paths[1]
    adaptive = _run("embed", src, "--out", tmp_path / "a", "--payload", PAYLOAD, "--key", key_file, "--strength", "0.5")
    fixed = _run("embed", src, "--out", tmp_path / "f", "--payload", PAYLOAD, "--key", key_file, "--strength", "0.5",
                 "--fixed-strength")
    assert adaptive.exit_code == 0 and fixed.exit_code == 0, adaptive.output + fixed.output
    applied = float(adaptive.stdout.strip().rsplit("strength ", 1)[1].rstrip(")"))
    assert 0.5 <= applied <= 1.0  # 0.5 times the per-image strength (1.0..2.0)
    assert fixed.stdout.strip().endswith("(strength 0.50)")
