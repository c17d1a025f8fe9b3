"""``--ray``: marking, attribution and verification on a real local Ray instance, and a resume
after the driver is killed. One Ray instance (2 CPUs) is shared by the module: it takes seconds to start."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps

from provmark.cli.main import main
from provmark.concepts.records import ConceptSpec
from provmark.concepts.registry import Registry

ray = pytest.importorskip("ray", reason="the Ray tests need provmark[ray] (scripts/setup.sh installs it)")

CLI = [sys.executable, "-c", "from provmark.cli.main import main; main()"]


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """The address of a local Ray instance with 2 CPUs, started once for this module."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _catalog(root: Path, photo_paths: list[Path], count: int, concepts: tuple[str, ...]) -> Path:
    src = root / "src"
    for i in range(count):
        folder = src / concepts[i % len(concepts)]
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.open(photo_paths[i % len(photo_paths)]).convert("RGB")
        image = (ImageOps.mirror(image) if i % 2 else image).resize((256 + 8 * i, 224 + 4 * i))
        image.save(folder / f"img{i:02d}.{'png' if i % 3 == 0 else 'jpg'}", quality=92)
    with Registry.create(root / "reg.db") as registry:
        registry.add([ConceptSpec(name) for name in concepts])
    return src


def _recorded(reg: Path) -> int:
    with sqlite3.connect(reg, timeout=30) as conn:
        return conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]


def test_mark_attribute_and_verify_on_ray(tmp_path: Path, photo_paths: list[Path], ray_address: str) -> None:
    src = _catalog(tmp_path, photo_paths, 6, ("alice", "bob"))
    (src / "bob" / "broken.jpg").write_bytes(photo_paths[0].read_bytes()[:300])
    reg, dst = tmp_path / "reg.db", tmp_path / "dst"
    runner = CliRunner()

    result = runner.invoke(main, ["mark", str(src), str(dst), "--registry", str(reg), "--concept-from-dir",
                                  "--ray", ray_address])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "6 marked, 0 already marked (skipped), 1 failed" in result.stderr
    assert "bob/broken.jpg: corrupt or truncated image data" in result.stderr.split("file(s) failed:")[1]
    outputs = sorted(p for p in dst.rglob("*") if p.is_file())
    assert len(outputs) == 6 and not (dst / "bob" / "broken.jpg").exists()
    with Registry.open(reg) as registry:
        records = {r.out_path: r for name in ("alice", "bob") for r in registry.images_of(name)}
    assert sorted(records) == [str(p) for p in outputs]
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == records[str(p)].out_sha256 for p in outputs)

    again = runner.invoke(main, ["mark", str(src), str(dst), "--registry", str(reg), "--concept-from-dir",
                                 "--ray", ray_address])  # fmt: skip
    assert "0 marked, 6 already marked (skipped), 1 failed" in again.stderr

    missing = dst / "nope.jpg"
    read = runner.invoke(main, ["attribute", "--registry", str(reg), "--json", "--ray", ray_address,
                                str(dst), str(src / "alice"), str(missing)])  # fmt: skip
    assert read.exit_code == 1, read.output  # the missing file
    rows = [json.loads(line) for line in read.stdout.splitlines()]
    assert [row["path"] for row in rows[:6]] == [str(p) for p in outputs]  # input order kept
    for row in rows[:6]:
        assert [c["name"] for c in row["concepts"]] == [Path(row["path"]).parent.name]
    assert all(row["concepts"] == [] for row in rows[6:-1])  # unmarked sources: nothing attributed
    assert rows[-1]["path"] == str(missing) and "no such file" in rows[-1]["error"]

    checked = runner.invoke(main, ["verify", "--ray", ray_address, str(outputs[0]), str(missing)])
    assert checked.exit_code == 1
    assert f"{outputs[0]}" in checked.stdout and "1 of 2 file(s) failed" in checked.stderr


def test_killed_ray_driver_resumes(tmp_path: Path, photo_paths: list[Path], ray_address: str) -> None:
    count = 16
    src = _catalog(tmp_path, photo_paths, count, ("alice",))
    reg, dst = tmp_path / "reg.db", tmp_path / "dst"
    cmd = ["mark", str(src), str(dst), "--registry", str(reg), "--concept", "alice", "--ray", ray_address]

    proc = subprocess.Popen([*CLI, *cmd], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while _recorded(reg) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver, mid-run: Ray cancels its tasks
    proc.wait()
    done = _recorded(reg)
    assert 2 <= done < count, f"the driver was not killed midway ({done} of {count} recorded)"

    rerun = CliRunner().invoke(main, cmd)
    assert rerun.exit_code == 0, rerun.output
    assert f"{count - done} marked, {done} already marked (skipped), 0 failed" in rerun.stderr
    outputs = sorted(p for p in dst.rglob("*") if p.is_file())
    assert [p.name for p in outputs] == sorted(p.name for p in (src / "alice").iterdir())  # no temporary files left
    with Registry.open(reg) as registry:
        assert registry.count_images() == count
        records = {r.out_path: r for r in registry.images_of("alice")}
    for path in outputs:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == records[str(path)].out_sha256
