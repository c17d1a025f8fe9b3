"""Faults found in review: files that must come out of a failed command unchanged, and secrets
that must not appear in an error message."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from provmark.cli.main import main


def test_zero_byte_registry_is_refused_and_left_as_it_was(photo_paths: list[Path], tmp_path: Path) -> None:
    registry = tmp_path / "empty.db"
    registry.touch()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.jpg").write_bytes(photo_paths[0].read_bytes())
    runner = CliRunner()
    for args in (["mark", str(tmp_path / "src"), str(tmp_path / "dst"), "--concept", "fox"], ["concepts", "add", "fox"],
                 ["concepts", "list"]):  # fmt: skip
        result = runner.invoke(main, [*args, "--registry", str(registry)])
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert "empty file" in result.stderr
        assert registry.read_bytes() == b""  # not turned into a database
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "src"]  # no -wal / -shm left


def test_foreign_file_as_registry_is_not_written(tmp_path: Path) -> None:
    registry = tmp_path / "notes.txt"
    registry.write_text("my notes\n")
    result = CliRunner().invoke(main, ["concepts", "list", "--registry", str(registry)])
    assert result.exit_code != 0 and "not a concept registry" in result.stderr
    assert registry.read_text() == "my notes\n"


def test_binary_watermark_key_is_not_quoted(photo_paths: list[Path], tmp_path: Path) -> None:
    key = tmp_path / "wm.key"
    secret = bytes(range(128, 160))
    key.write_bytes(secret)
    result = CliRunner().invoke(main, ["verify", str(photo_paths[0]), "--key", str(key)])
    assert result.exit_code == 1 and "not a watermark key" in result.stderr
    for byte in secret:
        assert f"0x{byte:02x}" not in result.output and f"\\x{byte:02x}" not in result.output
