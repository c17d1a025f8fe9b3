"""provmark sign on bad input: one clear line each, no traceback, no partial outputs, batch goes on."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from provmark.cli.main import main
from provmark.keys import KeyPaths, init_keys


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPaths:
    return init_keys(tmp_path_factory.mktemp("keys"))


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def assert_one_line(result: Result, *needles: str) -> str:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.startswith("provmark: error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_batch_reports_each_bad_input_and_signs_the_rest(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    notimg = tmp_path / "notes.jpg"
    notimg.write_text("not an image at all")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(photo_paths[0].read_bytes()[:3000])
    bmp = tmp_path / "pic.bmp"
    Image.new("RGB", (64, 64), "red").save(bmp)
    good = tmp_path / "good.jpg"
    shutil.copy(photo_paths[1], good)
    out = tmp_path / "out"
    result = run("sign", "--no-watermark", str(notimg), str(truncated), str(bmp), str(tmp_path / "missing.png"), str(good),
                 "--out", str(out), "--keys", str(keys.dir))  # fmt: skip
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("provmark: error:")]
    assert len(errors) == 4
    assert "not an image file" in errors[0]
    assert "truncated" in errors[1]
    assert "cannot be embedded in BMP" in errors[2]
    assert "no such file" in errors[3]
    assert "4 of 5 file(s) failed" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["good.jpg"]  # no partial or temporary files


def test_missing_keys_folder(photo_paths: list[Path], tmp_path: Path) -> None:
    result = run("sign", "--no-watermark", str(photo_paths[0]), "--out", str(tmp_path / "out"), "--keys", str(tmp_path / "nokeys"))
    assert result.exit_code == 1
    assert_one_line(result, "no such keys folder")
    assert not (tmp_path / "out").exists()


def test_missing_key_file(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    result = run("sign", "--no-watermark", str(photo_paths[0]), "--out", str(tmp_path), "--cert", str(keys.chain), "--key", str(tmp_path / "x.key"))
    assert result.exit_code == 1
    assert_one_line(result, "no such private key file")


def test_mismatched_key_and_certificate(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    other = init_keys(tmp_path / "other")
    out = tmp_path / "out"
    result = run("sign", "--no-watermark", str(photo_paths[0]), "--out", str(out), "--cert", str(keys.chain), "--key", str(other.key))
    assert result.exit_code == 1
    assert_one_line(result, "does not match the certificate")
    assert not out.exists() or not any(out.iterdir())


def test_wrong_and_missing_password(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path, encrypted_key: Callable[[Path, bytes], Path]) -> None:
    encrypted = encrypted_key(keys.key, b"right")
    args = ("sign", "--no-watermark", str(photo_paths[0]), "--out", str(tmp_path / "out"), "--cert", str(keys.chain), "--key", str(encrypted))
    wrong = run(*args, "--key-password", "wrong")
    assert wrong.exit_code == 1
    assert_one_line(wrong, "wrong password")
    missing = run(*args, env={"PROVMARK_KEY_PASSWORD": ""})
    assert missing.exit_code == 1
    assert_one_line(missing, "encrypted")


def test_garbage_certificate(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    result = run("sign", "--no-watermark", str(photo_paths[0]), "--out", str(tmp_path / "o"), "--cert", str(bad), "--key", str(keys.key))
    assert result.exit_code == 1
    assert_one_line(result, "not a PEM certificate chain")


def test_unwritable_output(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    result = run("sign", "--no-watermark", str(photo_paths[0]), "--out", str(blocker / "out"), "--keys", str(keys.dir))
    assert result.exit_code == 1
    assert_one_line(result, "cannot create output folder")


def test_output_would_overwrite_input(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    src = tmp_path / "a.jpg"
    shutil.copy(photo_paths[0], src)
    result = run("sign", "--no-watermark", str(src), "--out", str(tmp_path), "--keys", str(keys.dir))
    assert result.exit_code == 1
    assert "overwrite the input" in result.stderr
    assert src.read_bytes() == photo_paths[0].read_bytes()


def test_unreachable_tsa_is_one_line_and_writes_nothing(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Port 9 (discard) on localhost: nothing listens, no network leaves the machine.
    result = run("sign", "--no-watermark", str(photo_paths[0]), "--out", str(out), "--keys", str(keys.dir), "--tsa", "http://127.0.0.1:9/tsa")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("provmark: error:")]
    assert len(errors) == 1 and "time-stamp authority http://127.0.0.1:9/tsa" in errors[0]
    assert not any(out.iterdir())


def test_usage_errors(keys: KeyPaths, photo_paths: list[Path], tmp_path: Path) -> None:
    no_keys = run("sign", "--no-watermark", str(photo_paths[0]), "--out", str(tmp_path))
    assert no_keys.exit_code == 2 and "--keys" in no_keys.stderr
    label_and_sidecar = run("sign", "--no-watermark", str(photo_paths[0]), "--out", str(tmp_path / "o"), "--keys", str(keys.dir), "--sidecar", "--label", "x")
    assert label_and_sidecar.exit_code == 1
    assert_one_line(label_and_sidecar, "pick one")
    bad_tsa = run("sign", "--no-watermark", str(photo_paths[0]), "--out", str(tmp_path / "o"), "--keys", str(keys.dir), "--tsa", "ftp://x")
    assert_one_line(bad_tsa, "http:// or https://")
