"""The concept channel as a product feature: ``provmark mark --channel`` and ``provmark attribute --channel``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from provmark.cli.main import main
from provmark.concepts.layout import candidate_regions, search_weight
from provmark.concepts.records import ConceptSpec
from provmark.concepts.registry import Registry
from provmark.errors import WatermarkError
from provmark.watermark.concept_channel import embed_channel

KEY = bytes(range(32))
PAYLOAD = bytes(range(8))
CHANNEL = ["--channel", "8", "--channel-grid", "32"]


@pytest.fixture
def catalog(tmp_path: Path, photo_paths: list[Path]) -> tuple[Path, Path]:
    """Two concept folders of two photos each, and a registry knowing both concepts."""
    src = tmp_path / "src"
    for name, photos in (("alice", photo_paths[:2]), ("bob", photo_paths[2:4])):
        (src / name).mkdir(parents=True)
        for path in photos:
            (src / name / path.name).write_bytes(path.read_bytes())
    reg = tmp_path / "reg.db"
    with Registry.create(reg) as registry:
        registry.add([ConceptSpec("alice"), ConceptSpec("bob")])
    return src, reg


def _mark(runner: CliRunner, src: Path, dst: Path, reg: Path, *extra: str) -> str:
    result = runner.invoke(main, ["mark", str(src), str(dst), "--registry", str(reg), *extra])
    assert result.exit_code == 0, result.output
    return result.stderr


def _attribute(runner: CliRunner, reg: Path, paths: list[Path], *extra: str) -> tuple[int, list[dict]]:
    result = runner.invoke(main, ["attribute", "--registry", str(reg), "--json", *extra, *map(str, paths)])
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


def _generated(path: Path, out: Path) -> Path:
    """What a generator trained at 32 px makes of ``path``, shown at 128 px."""
    small = Image.open(path).convert("RGB").resize((32, 32), Image.Resampling.BOX)
    small.resize((128, 128), Image.Resampling.BICUBIC).save(out)
    return out


def _found(report: dict) -> dict[str, list[str]]:
    return {c["name"]: c["regions"] for c in report["concepts"]}


def test_channel_survives_32px_training_copies(tmp_path: Path, catalog: tuple[Path, Path]) -> None:
    src, reg = catalog
    dst, small = tmp_path / "out", tmp_path / "small"
    small.mkdir()
    runner = CliRunner()
    stderr = _mark(runner, src, dst, reg, "--concept-from-dir", "--verify", *CHANNEL)
    assert "4 marked" in stderr and "0 failed" in stderr
    marked = sorted(dst.rglob("*.jpg"))
    owners = [p.parent.name for p in marked]
    assert owners == ["alice", "alice", "bob", "bob"]
    with Registry.open(reg) as registry:
        records = [registry.record_for_output(str(p)).concepts for p in marked]
    assert records == [{"full": o, "channel": o} for o in owners]

    generated = [_generated(p, small / f"{p.parent.name}_{p.stem}.png") for p in marked]
    code, reports = _attribute(runner, reg, generated, "--channel", "--channel-grid", "32")
    assert code == 0
    for report, owner in zip(reports, owners):
        assert _found(report) == {owner: ["channel"]}
        hit = report["concepts"][0]
        assert hit["region"] == "channel" and 0.75 <= hit["confidence"] <= 1 and 0 < hit["p_value"] <= 1e-6
        assert report["regions_tried"] == len(candidate_regions(128, 128)) + 1
    code, reports = _attribute(runner, reg, generated)
    assert code == 3 and all(r["concepts"] == [] for r in reports)

    code, reports = _attribute(runner, reg, marked)
    assert code == 0 and [list(_found(r)) for r in reports] == [[o] for o in owners]
    code, reports = _attribute(runner, reg, marked, "--channel")
    assert code == 0 and [list(_found(r)) for r in reports] == [[o] for o in owners]
    assert all({"full", "channel"} <= set(r["concepts"][0]["regions"]) for r in reports)

    table = runner.invoke(main, ["attribute", "--registry", str(reg), "--channel", str(generated[0])])
    assert table.exit_code == 0 and "alice (channel, " in table.stdout
    again = runner.invoke(main, ["mark", str(src), str(dst), "--registry", str(reg), "--concept-from-dir", *CHANNEL])
    assert again.exit_code == 0 and "0 marked, 4 already marked" in again.stderr


def test_no_channel_attribution_without_the_channel(tmp_path: Path, catalog: tuple[Path, Path]) -> None:
    src, reg = catalog
    dst, small = tmp_path / "plain", tmp_path / "small"
    small.mkdir()
    runner = CliRunner()
    _mark(runner, src, dst, reg, "--concept-from-dir")
    plain = sorted(dst.rglob("*.jpg"))
    unmarked = sorted(src.rglob("*.jpg"))
    code, reports = _attribute(runner, reg, plain, "--channel")
    assert code == 0 and all("channel" not in r["concepts"][0]["regions"] for r in reports)
    code, reports = _attribute(runner, reg, unmarked, "--channel")
    assert code == 3 and all(r["concepts"] == [] for r in reports)
    generated = [_generated(p, small / f"{i}.png") for i, p in enumerate(plain + unmarked)]
    code, reports = _attribute(runner, reg, generated, "--channel")
    assert code == 3 and all(r["concepts"] == [] for r in reports)

    rerun = runner.invoke(main, ["mark", str(src), str(dst), "--registry", str(reg), "--concept-from-dir", *CHANNEL])
    assert rerun.exit_code == 0 and "4 marked, 0 already marked" in rerun.stderr  # now with the channel


def test_refusals_modes_and_failed_verify(tmp_path: Path, catalog: tuple[Path, Path], photo_paths: list[Path]) -> None:
    src, reg = catalog
    runner = CliRunner()
    dst = tmp_path / "out"
    for extra in (["--concept", "alice", "--concept", "bob"], ["--concept-from-dir", "--layout", "halves"]):
        result = runner.invoke(main, ["mark", str(src), str(dst), "--registry", str(reg), *extra, *CHANNEL])
        assert result.exit_code == 2 and "one concept per image" in result.stderr and not dst.exists()
    for bad in (["--channel", "0"], ["--channel", "8", "--channel-grid", "7"], ["--channel-grid", "32"]):
        result = runner.invoke(main, ["mark", str(src), str(dst), "--registry", str(reg), "--concept", "alice", *bad])
        assert result.exit_code == 2 and not dst.exists()

    modes = tmp_path / "modes"
    modes.mkdir()
    photo = Image.open(photo_paths[0]).convert("RGB").resize((256, 192))
    alpha = Image.linear_gradient("L").resize(photo.size)
    rgba = photo.copy()
    rgba.putalpha(alpha)
    rgba.save(modes / "a_rgba.png")
    Image.fromarray((np.asarray(photo.convert("L"), dtype=np.uint16) * 257)).save(modes / "b_deep.png")
    gray_profile = b"\0" * 16 + b"GRAY" + b"\0" * 108  # an ICC header naming a gray colour space
    photo.convert("L").save(modes / "c_gray.jpg", quality=95, icc_profile=gray_profile)
    result = runner.invoke(main, ["mark", str(modes), str(dst), "--registry", str(reg), "--concept", "alice", *CHANNEL])
    assert result.exit_code == 1 and "2 marked" in result.stderr and "1 failed" in result.stderr
    assert "b_deep.png: " in result.stderr and "16-bit" in result.stderr and not (dst / "b_deep.png").exists()
    out = Image.open(dst / "a_rgba.png")
    assert out.mode == "RGBA" and out.getchannel("A").tobytes() == alpha.tobytes()
    gray = Image.open(dst / "c_gray.jpg")
    assert gray.mode == "RGB" and "icc_profile" not in gray.info  # a gray profile does not fit RGB pixels
    code, reports = _attribute(runner, reg, [dst / "a_rgba.png", dst / "c_gray.jpg"], "--channel")
    # The whole-image mark is also read from sub-regions (the decoder undoes off-centre crops).
    assert code == 0 and all(list(_found(r)) == ["alice"] for r in reports)
    assert all({"full", "channel"} <= set(_found(r)["alice"]) for r in reports)

    faint = runner.invoke(main, ["mark", str(src / "alice"), str(tmp_path / "faint"), "--registry", str(reg),
                                 "--concept", "alice", "--verify", "--channel", "0.3"])  # fmt: skip
    assert faint.exit_code == 1 and "2 failed" in faint.stderr and "from the concept channel" in faint.stderr
    assert not (tmp_path / "faint").exists() or not any((tmp_path / "faint").rglob("*.jpg"))


def test_embed_channel_modes(photo_paths: list[Path]) -> None:
    photo = Image.open(photo_paths[1]).convert("RGB").resize((160, 128))
    rgb = embed_channel(photo, PAYLOAD, KEY, 8)
    for mode in ("RGBA", "LA", "PA"):
        image = photo.convert("P").convert(mode) if mode == "PA" else photo.convert(mode)
        image.putalpha(Image.linear_gradient("L").resize(photo.size))
        out = embed_channel(image, PAYLOAD, KEY, 8)
        assert out.mode == "RGBA" and out.getchannel("A").tobytes() == image.getchannel("A").tobytes()
        assert out.convert("RGB").tobytes() == embed_channel(image.convert("RGB"), PAYLOAD, KEY, 8).tobytes()
    assert embed_channel(photo.convert("RGBA"), PAYLOAD, KEY, 8).convert("RGB").tobytes() == rgb.tobytes()
    for mode in ("L", "P", "CMYK"):
        assert embed_channel(photo.convert(mode), PAYLOAD, KEY, 8).mode == "RGB"
    for mode in ("I;16", "I", "F"):
        with pytest.raises(WatermarkError, match="16-bit"):
            embed_channel(photo.convert("L").convert(mode), PAYLOAD, KEY, 8)


def test_channel_and_regions_share_the_budget_once() -> None:
    found = candidate_regions(640, 480)
    assert sum(1 / search_weight(r, len(found), halved=True) for r in found) == pytest.approx(0.5)
    assert sum(1 / search_weight(r, len(found)) for r in found) == pytest.approx(1.0)
