"""Killing a real ``provmark mark`` midway and running it again marks every file exactly once."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageOps

from provmark.concepts.codebook import CodeBook
from provmark.concepts.layout import regions
from provmark.concepts.reading import region_logits
from provmark.concepts.records import ConceptSpec
from provmark.concepts.registry import Registry
from provmark.io import load_image

CLI = [sys.executable, "-c", "from provmark.cli.main import main; main()"]


def _recorded(reg: Path) -> int:
    with sqlite3.connect(reg, timeout=30) as conn:
        return conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]


def test_killed_run_resumes_and_marks_every_file_once(tmp_path: Path, photo_paths: list[Path]) -> None:
    tmp_path = tmp_path.resolve()
    src, dst, reg = tmp_path / "src", tmp_path / "dst", tmp_path / "reg.db"
    src.mkdir()
    count = 10
    for i in range(count):
        image = Image.open(photo_paths[i % len(photo_paths)]).convert("RGB")
        image = ImageOps.mirror(image) if i % 2 else image
        image = image.resize((256 + 16 * i, 256 + 8 * i))
        image.save(src / f"img{i:02d}.{'png' if i % 3 == 0 else 'jpg'}", quality=95)
    with Registry.create(reg) as registry:
        registry.add([ConceptSpec("alice")])
    cmd = [*CLI, "mark", str(src), str(dst), "--registry", str(reg), "--concept", "alice", "-j", "2"]

    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while _recorded(reg) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, mid-run
    proc.wait()
    done = _recorded(reg)
    assert 2 <= done < count, f"the run was not killed midway ({done} of {count} recorded)"

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{count - done} marked, {done} already marked (skipped), 0 failed" in rerun.stderr
    outputs = sorted(p for p in dst.rglob("*") if p.is_file())
    assert [p.name for p in outputs] == sorted(p.name for p in src.iterdir())  # no leftover temporary files
    with Registry.open(reg) as registry:
        assert registry.count_images() == count
        records = {r.out_path: r for r in registry.images_of("alice")}
        assert sorted(records) == [str(p) for p in outputs]
        for path in outputs:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == records[str(path)].out_sha256
        registry.add([ConceptSpec("bob")])
        codebook = CodeBook.from_registry(registry)
        found = []
        for path in outputs:
            image = load_image(path).image
            match = codebook.match(region_logits(image, regions("full", *image.size)[0], registry.watermark_key))
            found.append(registry.by_index(match.index).name if match.p_value <= 1e-6 else None)
    assert found == ["alice"] * count
