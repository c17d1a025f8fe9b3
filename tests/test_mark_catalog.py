"""Catalog marking: mirror layout, formats and metadata kept, SRC untouched, failures, resume."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from provmark.cli.main import main
from provmark.concepts.catalog import clean_partial_outputs, walk_catalog
from provmark.concepts.records import ConceptSpec
from provmark.concepts.registry import Registry
from provmark.io import load_image


def _tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


@pytest.fixture
def catalog(tmp_path: Path, photo_paths: list[Path]) -> tuple[Path, Path]:
    """A small catalog in two concept folders, with PNG, WebP, EXIF/ICC, a text file and a corrupt image."""
    src = tmp_path / "src"
    (src / "alice" / "2024").mkdir(parents=True)
    (src / "bob").mkdir()
    exif = Image.Exif()
    exif[0x010E] = "caption kept"
    first = Image.open(photo_paths[0])
    first.save(src / "alice" / "meta.jpg", quality=82, exif=exif.tobytes(), icc_profile=b"\0icc" * 40)
    for path in photo_paths[1:3]:
        (src / "alice" / "2024" / path.name).write_bytes(path.read_bytes())
    Image.open(photo_paths[3]).convert("RGBA").save(src / "bob" / "alpha.png")
    Image.open(photo_paths[1]).resize((320, 256)).save(src / "bob" / "small.webp", quality=90)
    (src / "bob" / "notes.txt").write_text("not an image", encoding="utf-8")
    (src / "bob" / "broken.jpg").write_bytes(photo_paths[0].read_bytes()[:300])
    reg = tmp_path / "reg.db"
    with Registry.create(reg) as registry:
        registry.add([ConceptSpec("alice", "Alice"), ConceptSpec("bob", "Bob")])
    return src, reg


def _attribute(runner: CliRunner, reg: Path, *paths: Path) -> tuple[int, list[dict]]:
    result = runner.invoke(main, ["attribute", "--registry", str(reg), "--json", *map(str, paths)])
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


def test_mark_from_dirs_keeps_formats_and_metadata_and_resumes(tmp_path: Path, catalog: tuple[Path, Path]) -> None:
    src, reg = catalog
    dst = tmp_path / "out"
    before = _tree_hashes(src)
    runner = CliRunner()
    args = ["mark", str(src), str(dst), "--registry", str(reg), "--concept-from-dir", "--verify"]
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "5 marked" in result.stderr and "1 failed" in result.stderr and "1 non-image" in result.stderr
    assert "bob/broken.jpg: " in result.stderr
    assert _tree_hashes(src) == before  # SRC untouched
    outputs = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert outputs == sorted(rel for rel in before if not rel.endswith((".txt", "broken.jpg")))
    for rel in outputs:
        original, marked = load_image(src / rel), load_image(dst / rel)
        assert (marked.format, marked.image.size, marked.image.mode) == (
            original.format, original.image.size, original.image.mode)  # fmt: skip
    meta = load_image(dst / "alice" / "meta.jpg")
    assert meta.icc_profile == b"\0icc" * 40 and b"caption kept" in meta.exif
    assert abs(meta.jpeg_quality - 82) <= 2

    code, reports = _attribute(runner, reg, *(dst / rel for rel in outputs))
    assert code == 0
    assert [r["concepts"][0]["name"] for r in reports] == [rel.split("/")[0] for rel in outputs]
    assert all(0 < r["concepts"][0]["p_value"] <= 1e-5 and r["concepts"][0]["region"] == "full" for r in reports)
    code, reports = _attribute(runner, reg, *(src / rel for rel in outputs))
    assert code == 3 and all(r["concepts"] == [] for r in reports)

    with Registry.open(reg) as registry:
        assert registry.count_images() == 5
        records = list(registry.images_of("alice"))
        assert sorted(Path(r.out_path).relative_to(dst).as_posix() for r in records) == [
            rel for rel in outputs if rel.startswith("alice/")]  # fmt: skip
        for record in records:
            assert hashlib.sha256(Path(record.out_path).read_bytes()).hexdigest() == record.out_sha256
            assert hashlib.sha256(Path(record.src_path).read_bytes()).hexdigest() == record.src_sha256

    stamps = {rel: (dst / rel).stat().st_mtime_ns for rel in outputs}
    again = runner.invoke(main, args)
    assert again.exit_code == 1 and "0 marked, 5 already marked" in again.stderr
    assert {rel: (dst / rel).stat().st_mtime_ns for rel in outputs} == stamps
    (src / "bob" / "broken.jpg").unlink()
    (dst / "alice" / "meta.jpg").write_bytes(b"tampered")  # no longer what the registry recorded
    third = runner.invoke(main, args)
    assert third.exit_code == 0 and "1 marked, 4 already marked (skipped), 0 failed" in third.stderr
    with Registry.open(reg) as registry:
        assert registry.count_images() == 5


def test_jpeg75_copies_still_attributed(tmp_path: Path, catalog: tuple[Path, Path]) -> None:
    src, reg = catalog
    dst = tmp_path / "out"
    runner = CliRunner()
    runner.invoke(main, ["mark", str(src / "alice"), str(dst), "--registry", str(reg), "--concept", "alice"])
    copies = []
    for path in sorted(dst.rglob("*.jpg")):
        buf = io.BytesIO()
        Image.open(path).convert("RGB").save(buf, "JPEG", quality=75)
        copies.append(tmp_path / f"copy_{path.name}")
        copies[-1].write_bytes(buf.getvalue())
    code, reports = _attribute(runner, reg, *copies)
    assert code == 0 and [r["concepts"][0]["name"] for r in reports] == ["alice"] * len(copies)


def test_multi_concept_regions(tmp_path: Path, catalog: tuple[Path, Path]) -> None:
    src, reg = catalog
    dst = tmp_path / "out"
    one = tmp_path / "one"
    one.mkdir()
    Image.open(src / "alice" / "meta.jpg").resize((640, 480)).save(one / "wide.jpg", quality=95)
    with Registry.open(reg) as registry:
        registry.add([ConceptSpec("carol"), ConceptSpec("dave")])
    runner = CliRunner()
    cmd = ["mark", str(one), str(dst), "--registry", str(reg), "--verify"]
    result = runner.invoke(main, [*cmd, "--concept", "alice", "--concept", "bob"])
    assert result.exit_code == 0, result.output
    code, [report] = _attribute(runner, reg, dst / "wide.jpg")
    found = {region: c["name"] for c in report["concepts"] for region in c["regions"]}
    assert code == 0 and found.get("left") == "alice" and found.get("right") == "bob"
    assert {c["name"] for c in report["concepts"]} == {"alice", "bob"}

    quads = ["--concept", "alice", "--concept", "bob", "--concept", "carol", "--concept", "dave"]
    result = runner.invoke(main, [*cmd[:2], str(tmp_path / "out4"), *cmd[3:], *quads, "--layout", "quadrants"])
    assert result.exit_code == 0, result.output
    code, [report] = _attribute(runner, reg, tmp_path / "out4" / "wide.jpg")
    found = {region: c["name"] for c in report["concepts"] for region in c["regions"]}
    assert [found.get(r) for r in ("top-left", "top-right", "bottom-left", "bottom-right")] == [
        "alice", "bob", "carol", "dave"]  # fmt: skip
    with Registry.open(reg) as registry:
        assert registry.record_for_output(str(tmp_path / "out4" / "wide.jpg")).concepts == {
            "top-left": "alice", "top-right": "bob", "bottom-left": "carol", "bottom-right": "dave"}  # fmt: skip

    small = tmp_path / "small"
    small.mkdir()
    Image.new("RGB", (200, 200), "gray").save(small / "s.png")
    result = runner.invoke(main, ["mark", str(small), str(tmp_path / "o3"), "--registry", str(reg), *quads])
    assert result.exit_code == 1 and "each region needs at least 128x128" in result.stderr


def test_concept_map_and_refusals(tmp_path: Path, catalog: tuple[Path, Path]) -> None:
    src, reg = catalog
    runner = CliRunner()
    base = ["--registry", str(reg), "--concept", "alice"]
    for dst in (src, src / "alice" / "out"):
        result = runner.invoke(main, ["mark", str(src), str(dst), *base])
        assert result.exit_code == 1 and "outside the source folder" in result.stderr
    result = runner.invoke(main, ["mark", str(src / "alice"), str(src), *base])
    assert result.exit_code == 1 and "outside the source folder" in result.stderr
    out = tmp_path / "out"
    assert runner.invoke(main, ["mark", str(src), str(out), "--registry", str(reg)]).exit_code == 2
    result = runner.invoke(main, ["mark", str(src), str(out), "--registry", str(reg), "--concept", "zed"])
    assert result.exit_code == 1 and "'zed'" in result.stderr and not out.exists()

    cmap = tmp_path / "map.csv"
    cmap.write_text("path,concept\nbob/small.webp,bob\nalice/meta.jpg,alice;bob\nmissing.png,alice\n", encoding="utf-8")
    result = runner.invoke(main, ["mark", str(src), str(out), "--registry", str(reg), "--concept-map", str(cmap)])
    assert result.exit_code == 1
    assert "2 marked" in result.stderr and "missing.png: listed in the concept map but not found" in result.stderr
    assert "alice/2024/" in result.stderr and "not listed in the concept map" in result.stderr
    with Registry.open(reg) as registry:
        assert registry.record_for_output(str(out / "alice" / "meta.jpg")).concepts == {"left": "alice", "right": "bob"}


def test_walk_is_sorted_and_partial_outputs_are_cleaned(tmp_path: Path) -> None:
    for rel in ("b/2.jpg", "a/z/1.png", "a/0.jpg", "c.txt", ".hidden/3.jpg", "a/._0.jpg"):
        (tmp_path / "s" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "s" / rel).write_bytes(b"x")
    assert list(walk_catalog(tmp_path / "s")) == ["c.txt", "a/0.jpg", "a/z/1.png", "b/2.jpg"]
    (tmp_path / "d").mkdir()
    for name in (".x.jpg.ab12cd_9.tmp", ".keep.txt.ab12cd_9.tmp", "x.jpg"):
        (tmp_path / "d" / name).write_bytes(b"x")
    assert clean_partial_outputs(tmp_path / "d") == 1
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [".keep.txt.ab12cd_9.tmp", "x.jpg"]
