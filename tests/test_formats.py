"""Formats: AVIF, HEIC and JPEG XL round trips; animations and multi-page files never flattened;
1-bit scans keep their mode; formats c2pa reads that no codec here writes get one clear answer."""

from __future__ import annotations

import io
from pathlib import Path

import c2pa
import pytest
from click.testing import CliRunner
from PIL import Image

from provmark.cli.main import main
from provmark.detect.verify import VerifyOptions, verify_file
from provmark.io.codecs import SUPPORTED_FORMATS, sniff_c2pa_mime
from provmark.keys import KeyPaths, init_keys, load_watermark_key


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPaths:
    return init_keys(tmp_path_factory.mktemp("keys"), org="Formats Org")


def reader_state(path: Path, mime: str, ca: Path) -> str:
    context = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False}, "trust": {"user_anchors": ca.read_text()}})
    with c2pa.Reader(mime, io.BytesIO(path.read_bytes()), context=context) as reader:
        return reader.get_validation_state()


@pytest.mark.parametrize("fmt,ext,mime", [("AVIF", "avif", "image/avif"), ("HEIF", "heic", "image/heif"), ("JXL", "jxl", "image/jxl")])
def test_sign_verify_and_watermark_round_trip(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path, fmt: str, ext: str, mime: str) -> None:
    assert fmt in SUPPORTED_FORMATS
    src = tmp_path / f"in.{ext}"
    Image.open(photo_paths[0]).convert("RGB").save(src, format=fmt, quality=90)
    assert sniff_c2pa_mime(src.read_bytes()) == mime
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sign", str(src), "--out", str(out), "--keys", str(keys.dir), "--generator", "Gen 2"])
    assert result.exit_code == 0, result.output
    signed = out / src.name
    assert Image.open(signed).format == fmt
    assert reader_state(signed, mime, keys.ca) == "Trusted"
    report = verify_file(signed, VerifyOptions(trust_pems=[keys.ca.read_text()], watermark_key=load_watermark_key(keys.watermark_key)))
    assert report.verified and report.format == fmt and report.ai_generated is True
    assert report.xmp is not None and report.xmp.digital_source_type is not None  # the XMP disclosure is read back
    assert report.watermark is not None and report.watermark.detected and report.watermark.matches_manifest


def animated_gif(path: Path, photo: Path, frames: int = 3) -> Path:
    base = Image.open(photo).convert("RGB").resize((160, 120))
    images = [base.rotate(10 * i).convert("P", palette=Image.Palette.ADAPTIVE) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def test_animation_is_signed_whole_or_refused_never_flattened(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    gif = animated_gif(tmp_path / "anim.gif", photo_paths[1])
    runner = CliRunner()
    # pixel changes (watermark, caption) would flatten it: refused, one line, the batch goes on
    refused = runner.invoke(main, ["sign", str(gif), str(photo_paths[0]), "--out", str(tmp_path / "a"), "--keys", str(keys.dir)])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "3 frames" in refused.stderr and not (tmp_path / "a" / "anim.gif").exists()
    assert (tmp_path / "a" / photo_paths[0].name).exists()
    # no pixel change: signed whole
    whole = runner.invoke(main, ["sign", "--no-watermark", str(gif), "--out", str(tmp_path / "b"), "--keys", str(keys.dir)])
    assert whole.exit_code == 0, whole.output
    out = Image.open(tmp_path / "b" / "anim.gif")
    assert out.n_frames == 3
    assert reader_state(tmp_path / "b" / "anim.gif", "image/gif", keys.ca) == "Trusted"
    # the watermark tool and the catalog marker refuse it too
    embed = runner.invoke(main, ["embed", str(gif), "--out", str(tmp_path / "c"), "--payload", "00" * 8,
                                 "--key", str(keys.watermark_key)])  # fmt: skip
    assert embed.exit_code == 1 and "3 frames" in embed.stderr
    assert runner.invoke(main, ["concepts", "add", "--registry", str(tmp_path / "r.db"), "fox"]).exit_code == 0
    (tmp_path / "cat").mkdir()
    gif.rename(tmp_path / "cat" / "anim.gif")
    marked = runner.invoke(main, ["mark", str(tmp_path / "cat"), str(tmp_path / "dst"), "--registry", str(tmp_path / "r.db"),
                                  "--concept", "fox"])  # fmt: skip
    assert "3 frames" in marked.stderr and not (tmp_path / "dst" / "anim.gif").exists()


def test_multipage_tiff_is_signed_whole(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    pages = [Image.open(p).convert("RGB").resize((96, 64)) for p in photo_paths[:2]]
    src = tmp_path / "pages.tif"
    pages[0].save(src, save_all=True, append_images=pages[1:])
    result = CliRunner().invoke(main, ["sign", "--no-watermark", str(src), "--out", str(tmp_path / "o"), "--keys", str(keys.dir)])
    assert result.exit_code == 0, result.output
    assert reader_state(tmp_path / "o" / "pages.tif", "image/tiff", keys.ca) == "Trusted"
    report = verify_file(tmp_path / "o" / "pages.tif", VerifyOptions(trust_pems=[keys.ca.read_text()]))
    assert report.verified


def test_bilevel_group4_tiff_keeps_its_mode_and_size(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    scan = Image.open(photo_paths[2]).convert("L").resize((1200, 900)).convert("1")
    src = tmp_path / "scan.tif"
    scan.save(src, compression="group4")
    runner = CliRunner()
    labelled = runner.invoke(main, ["sign", "--no-watermark", "--label", "AI-generated", str(src), "--out", str(tmp_path / "l"),
                                    "--keys", str(keys.dir)])  # fmt: skip
    assert labelled.exit_code == 0, labelled.output
    out = tmp_path / "l" / "scan.tif"
    with Image.open(out) as image:
        assert image.mode == "1" and image.info["compression"] == "group4"
    assert out.stat().st_size < 3 * src.stat().st_size
    assert reader_state(out, "image/tiff", keys.ca) == "Trusted"
    # a watermark cannot live in one bit per pixel: one clear line, the rest of the batch is signed
    marked = runner.invoke(main, ["sign", str(src), str(photo_paths[0]), "--out", str(tmp_path / "w"), "--keys", str(keys.dir)])
    assert marked.exit_code == 1 and "Traceback" not in marked.output and "scan.tif" in marked.stderr
    assert (tmp_path / "w" / photo_paths[0].name).exists()


def test_svg_gets_its_manifest_checked_and_one_line_for_pixels(tmp_path: Path) -> None:
    svg = tmp_path / "drawing.svg"
    svg.write_text('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>')
    result = CliRunner().invoke(main, ["verify", str(svg), "--json"])
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert '"integrity": "unsigned"' in result.stdout and "no SVG decoder" in result.stdout
    keys = init_keys(tmp_path / "keys")
    signing = CliRunner().invoke(main, ["sign", "--no-watermark", str(svg), "--out", str(tmp_path / "o"), "--keys", str(keys.dir)])
    assert signing.exit_code == 1 and "Traceback" not in signing.output
    assert "SVG can carry a C2PA manifest, but no codec here" in signing.stderr


def test_odd_modes_keep_their_mode_or_are_refused_clearly(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    base = Image.open(photo_paths[1]).convert("RGB").resize((96, 64))
    src = tmp_path / "src"
    src.mkdir()
    for mode in ("1", "L", "LA", "P", "PA", "RGBA", "CMYK", "YCbCr", "LAB", "I;16", "I", "F"):
        image = base.convert("P").convert("PA") if mode == "PA" else base.convert(mode)
        image.save(src / f"{mode.replace(';', '_')}.tif")
    inputs = sorted(src.iterdir())
    result = CliRunner().invoke(main, ["sign", "--no-watermark", "--label", "AI", *map(str, inputs), "--out", str(tmp_path / "o"),
                                       "--keys", str(keys.dir)])  # fmt: skip
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    refused = {line.split(": ", 1)[0] for line in result.stderr.splitlines() if line.startswith("  ")}
    assert {Path(p.strip()).stem for p in refused} == {"I_16", "I", "F"}  # more than 8 bits: refused, not reduced
    assert all("8 bits" in line for line in result.stderr.splitlines() if line.startswith("  "))
    for path in inputs:
        out = tmp_path / "o" / path.name
        if out.exists():
            assert Image.open(out).mode == Image.open(path).mode, path.name
