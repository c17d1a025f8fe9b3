"""Issue-11 generator experiment (diffusers): the whole pipeline in smoke mode on the bundled photos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.mark.experiment
def test_smoke_run_trains_every_setting_samples_and_audits(tmp_path: Path) -> None:
    pytest.importorskip("diffusers", reason="pip install -e '.[diffusers]'")
    from benchmarks.promark.gpu_experiment import main

    out = tmp_path / "run"
    main(["--smoke", "--out", str(out), "--data", str(DATA), "--settings", "a,b"])
    results = json.loads((out / "results.json").read_text())
    assert sorted(results) == ["a", "a-control", "b", "b-control"]
    for variant, r in results.items():
        assert r["steps"] > 0 and r["fd"] > 0
        assert r["learned_by_class"] == []  # a few steps learn nothing; the audit must claim nothing
        assert len(list((out / variant / "samples").glob("*.png"))) == 8 * 3
    assert (out / "base" / "ckpt.pt").exists()
    main(["--out", str(out), "--resume", "--data", str(DATA), "--settings", "a", "--steps", "10"])
    steps = [json.loads(line)["step"] for line in (out / "a" / "log.jsonl").read_text().splitlines()]
    assert json.loads((out / "results.json").read_text())["a"]["steps"] == 10 and steps[-1] == 10
