"""examples/sign_pipeline.py runs: a batch signed with one Signer, each output verified."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sign_pipeline.py"


def test_pipeline_example_signs_and_verifies_a_batch(tmp_path: Path) -> None:
    args = [sys.executable, str(EXAMPLE), "--keys", str(tmp_path / "keys"), "--out", str(tmp_path / "out"), "--count", "2", "--numpy"]
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all("verified=True" in line and "ai_generated=true" in line for line in lines)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["output-0.png", "output-1.png"]
    assert len(list((tmp_path / "keys" / "manifests").glob("*.json"))) == 2  # each with its content fingerprint
