"""ProMark experiment: the whole pipeline in smoke mode, and exact resumption of generator training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from benchmarks.promark import diffusion
from benchmarks.promark.run import main
from benchmarks.promark.unet import UNetConfig


@pytest.mark.experiment
def test_smoke_run_marks_trains_samples_attributes_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "run"
    main(["--smoke", "--out", str(out)])
    results = json.loads((out / "results.json").read_text())
    names = results["concepts"]
    assert len(names) == 3
    # the real product path: one registry concept per set, every training image marked with provmark mark
    assert sorted(p.name for p in (out / "marked").iterdir()) == names
    assert sum(1 for _ in (out / "marked").rglob("*.png")) == 3 * 6
    ceiling = {c["variant"]: c for c in results["data_ceiling"]}
    assert ceiling["chan12"]["concept_channel_accuracy"] == 1.0  # the channel survives the downscale to 16 px
    assert ceiling["control"]["concept_channel_attributed"] == 0.0
    assert ceiling["control"]["product_mark_attributed"] == 0.0
    for variant in ("control", "chan12"):
        scores = results["variants"][variant]
        assert scores["samples"] == 3 * 4 and scores["train_steps"] == 4
        assert sum(map(sum, scores["concept_channel"]["confusion"])) == 12
        assert 0.0 <= scores["similarity_baseline"]["accuracy"] <= 1.0 and scores["quality_fd"] >= 0.0
    control = results["variants"]["control"]
    assert control["product_mark"]["attributed"] == 0.0 and control["concept_channel"]["attributed"] == 0.0
    with Image.open(out / "samples.png") as grid, Image.open(out / "confusion-chan12-channel.png") as conf:
        assert grid.width > 0 and conf.width > 0
    assert "| chan12 | 4 | 12 |" in (out / "table.md").read_text()
    # the committed sampler: EMA weights only, enough to sample the same images again
    generator = out / "models" / "chan12" / diffusion.GENERATOR
    assert generator.stat().st_size < (out / "models" / "chan12" / "ckpt.pt").stat().st_size / 2
    saved = torch.load(out / "samples" / "chan12.pt")
    again = diffusion.ddim_sample(diffusion.load_ema(generator), saved["labels"], 16, results["config"]["ddim_steps"], seed=1)
    assert torch.allclose(again, saved["samples"], atol=1e-5)
    # a clone has generator.pt but no ckpt.pt: --resume samples and re-attributes without training
    for ckpt in (out / "models").glob("*/ckpt.pt"):
        ckpt.unlink()
    main(["--out", str(out), "--resume"])
    again_results = json.loads((out / "results.json").read_text())
    assert not list((out / "models").glob("*/ckpt.pt"))
    for variant in ("control", "chan12"):
        before, after = results["variants"][variant], again_results["variants"][variant]
        assert after["train_steps"] == before["train_steps"] and after["concept_channel"] == before["concept_channel"]


def test_training_resumes_exactly_from_its_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    images, labels = torch.rand(12, 3, 8, 8) * 2 - 1, torch.arange(12) % 2
    unet = UNetConfig(classes=2, widths=(8, 16))
    config = diffusion.TrainConfig(steps=5, batch=4, warmup=2, checkpoint_every=100)
    torch.manual_seed(1)
    assert diffusion.train(images, labels, unet, config, tmp_path / "straight") == 5
    torch.manual_seed(1)
    short = diffusion.TrainConfig(steps=3, batch=4, warmup=2, checkpoint_every=100)
    assert diffusion.train(images, labels, unet, short, tmp_path / "resumed") == 3
    torch.manual_seed(2)  # a different fresh init must not matter: the checkpoint is loaded
    assert diffusion.train(images, labels, unet, config, tmp_path / "resumed") == 5
    a = torch.load(tmp_path / "straight" / "ckpt.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "ckpt.pt", weights_only=False)
    assert b["step"] == 5
    for name, tensor in a["ema"].items():
        assert torch.equal(tensor, b["ema"][name]), name
