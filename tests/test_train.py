"""Training: a tiny model learns on the bundled photos, resuming is exact, the CLI runs and resumes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from provmark.cli.main import main
from provmark.errors import ModelError
from provmark.models import ModelConfig, to_internal
from provmark.models.data import list_photos, load_rgb, split_photos, to_float
from provmark.models.evaluation import mark
from provmark.models.training import CHECKPOINT, TrainConfig, open_trainer

TINY = ModelConfig(size=128, grid=64, decoder_width=8, cancel_steps=0)


@pytest.fixture()
def photo_dir(tmp_path: Path, photo_paths: list[Path]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photo_paths:
        shutil.copy(path, folder / path.name)
    return folder


def _config(data: Path, steps: int, **changes) -> TrainConfig:
    settings = dict(
        data=str(data), steps=steps, batch_size=6, lr=5e-3, warmup=5, min_crop=96, max_crop=160,
        eval_every=10_000, log_every=10, validation_count=2, model=TINY,
    )
    return TrainConfig(**{**settings, **changes})


def test_split_holds_out_every_fifth_sorted_name(tmp_path: Path) -> None:
    paths = [tmp_path / f"img{i:02d}.jpg" for i in range(20)]
    split = split_photos(list(reversed(paths)), validation_count=2)
    assert split.held_out == [paths[i] for i in (0, 5, 10, 15)]
    assert not set(split.held_out) & set(split.train + split.validation)
    assert set(split.validation).isdisjoint(split.train)
    assert len(split.train) == 14


def _clean_loss(model, paths: list[Path]) -> tuple[float, float]:
    """BCE and bit accuracy of the decoder's unaligned reading of freshly marked images."""
    images = [to_float(img) for img in load_rgb(paths)]
    bits = torch.randint(0, 2, (len(images), model.config.num_bits), generator=torch.Generator().manual_seed(5)).float()
    carriers = model.carriers(bytes(32))  # a key training never drew
    model.eval()
    with torch.no_grad():
        marked = torch.cat([to_internal(mark(model, im, bits[i : i + 1], carriers), model.config.size) for i, im in enumerate(images)])
        logits = model.decode_logits(marked, carriers, search=False)
    return float(F.binary_cross_entropy_with_logits(logits, bits)), float(((logits > 0).float() == bits).float().mean())


def test_tiny_model_trains_the_whitener_for_any_key(photo_dir: Path, tmp_path: Path) -> None:
    # Keyed carriers decode above chance from the start; training (a fresh random key per step)
    # moves only the whitener and logit scale, and the model still reads the carriers of a key
    # it never drew on photos it never saw (without the untrained alignment search).
    config = _config(photo_dir, 20, batch_size=8, lr=3e-2, min_crop=128, strength_start=1.0, attack_probability=0.0)
    trainer = open_trainer(tmp_path / "run", config, resume=False, log=lambda _: None)
    unseen = split_photos(list_photos(photo_dir), 2).validation
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    loss_before, _ = _clean_loss(trainer.model, unseen)
    trainer.run()
    loss_after, accuracy_after = _clean_loss(trainer.model, unseen)
    after = trainer.model.state_dict()
    assert set(after) == set(before) and torch.equal(after["spectrum"], before["spectrum"])
    assert not torch.equal(after["whitener.net.6.weight"], before["whitener.net.6.weight"])
    assert accuracy_after > 0.7
    assert loss_after < loss_before + 0.01


def test_resume_reproduces_an_uninterrupted_run(photo_dir: Path, tmp_path: Path) -> None:
    straight = open_trainer(tmp_path / "a", _config(photo_dir, 6), resume=False, log=lambda _: None)
    straight.run()
    interrupted = open_trainer(tmp_path / "b", _config(photo_dir, 6), resume=False, log=lambda _: None)
    for _ in range(3):
        interrupted.train_step()
    interrupted.save_checkpoint()
    resumed = open_trainer(tmp_path / "b", _config(photo_dir, 6), resume=True, log=lambda _: None)
    assert resumed.state.step == 3
    resumed.run()
    assert resumed.state.step == 6
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(value, resumed.model.state_dict()[key], atol=1e-6), key


def test_new_run_refuses_an_existing_checkpoint_and_resume_needs_one(photo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no checkpoint to resume from"):
        open_trainer(tmp_path / "empty", None, resume=True)
    open_trainer(tmp_path / "run", _config(photo_dir, 1), resume=False, log=lambda _: None).run()
    with pytest.raises(ModelError, match="pass --resume"):
        open_trainer(tmp_path / "run", _config(photo_dir, 1), resume=False)


def test_cli_trains_and_resumes(photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    common = ["--size", "128", "--grid", "64", "--min-crop", "64", "--max-crop", "96", "--batch-size", "4"]
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--data", str(photo_dir), "--out", str(out), "--steps", "3", *common])
    assert result.exit_code == 0, result.output
    assert "done: step 3" in result.output
    assert (out / CHECKPOINT).exists() and (out / "best" / "best.pt").exists()
    assert "val step 3:" in (out / "train.log").read_text()
    again = runner.invoke(main, ["train", "--data", str(photo_dir), "--out", str(out), "--steps", "3"])
    assert again.exit_code == 1 and "pass --resume" in again.output
    resumed = runner.invoke(main, ["train", "--out", str(out), "--resume", "--steps", "5"])
    assert resumed.exit_code == 0, resumed.output
    assert "resumed at step 3" in resumed.output and "done: step 5" in resumed.output


def test_cli_reports_missing_data_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "training data folder not found" in result.output
