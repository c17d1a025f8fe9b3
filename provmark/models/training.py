"""Resumable training loop: random crops -> residual -> 8-bit marked image -> attacks -> decoder.

Every step draws a fresh random key, so the whitener learns to read the carriers of any key.

The residual has a fixed RMS by construction, so the only loss is BCE on the bits (plus a
small term keeping logits of unmarked images near zero).
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from provmark.errors import ModelError
from provmark.io import write_bytes_atomic
from provmark.models.augment import TrainingAttacks, evaluation_attacks, quantise
from provmark.models.config import ModelConfig
from provmark.models.data import CropSampler, list_photos, load_rgb, split_photos, to_float
from provmark.models.embedding import add_residual, to_internal
from provmark.models.evaluation import Evaluation, evaluate
from provmark.models.hub import export_model, load_model
from provmark.models.networks import WatermarkModel

CHECKPOINT = "checkpoint.pt"
LOG = "train.log"


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in its checkpoint).

    ``threads`` defaults to 1: on the shared 2-core machine a second torch thread waits on a core
    busy with other (niced) jobs and a step becomes ~10x slower, not 2x faster.
    """

    data: str
    steps: int = 4000
    seed: int = 0
    batch_size: int = 12
    lr: float = 3e-3
    warmup: int = 100
    min_crop: int = 256
    max_crop: int = 400
    severity_ramp: float = 0.4
    attack_probability: float = 0.6
    strength_start: float = 2.0
    strength_ramp: float = 0.3
    unmarked_fraction: float = 0.15
    eval_every: int = 200
    log_every: int = 20
    checkpoint_minutes: float = 5.0
    threads: int = 1
    validation_count: int = 8
    init: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["model"] = self.model.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "model": ModelConfig.from_dict(data["model"])})


@dataclass
class TrainState:
    """Progress of a run: step, wall time, best validation score."""

    step: int = 0
    elapsed: float = 0.0
    best_score: float = -1.0
    best_step: int = 0


class Trainer:
    """Owns the model, optimizer, data and RNG of one run folder; resumable from its checkpoint."""

    def __init__(self, config: TrainConfig, out: str | Path, log: Callable[[str], None] = print) -> None:
        self.config, self.out, self.echo = config, Path(out), log
        torch.manual_seed(config.seed)
        self.gen = torch.Generator().manual_seed(config.seed)
        if config.init:
            self.model = WatermarkModel(load_model(config.init).config)
            self.model.load_state_dict(load_model(config.init).state_dict())
            self.config = config = replace(config, model=self.model.config)
        else:
            self.model = WatermarkModel(config.model)
        self.model.train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=1e-4)
        self.state = TrainState()
        split = split_photos(list_photos(config.data), config.validation_count)
        self.sampler = CropSampler(load_rgb(split.train), config.min_crop, config.max_crop, self.gen)
        self.validation = [to_float(img) for img in load_rgb(split.validation)]
        self.attacks = TrainingAttacks(self.gen)
        self.echo(
            f"data: {len(split.train)} training, {len(split.validation)} validation, "
            f"{len(split.held_out)} held-out photos (not used)"
        )

    # -- schedules -------------------------------------------------------------------------
    def _progress(self, fraction: float) -> float:
        return min(1.0, self.state.step / max(1.0, fraction * self.config.steps))

    def learning_rate(self) -> float:
        """Linear warm-up, then cosine decay to 5% of ``lr`` at the last step."""
        c, step = self.config, self.state.step
        if step < c.warmup:
            return c.lr * (step + 1) / c.warmup
        t = min(1.0, (step - c.warmup) / max(1, c.steps - c.warmup))
        return c.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))

    def severity(self) -> float:
        """Attack severity ramps from 0.1 to 1 over the first ``severity_ramp`` of the run."""
        return 0.1 + 0.9 * self._progress(self.config.severity_ramp)

    def strength(self) -> float:
        """Embedding strength decays from ``strength_start`` to 1 over the first ``strength_ramp``."""
        return 1.0 + (self.config.strength_start - 1.0) * (1.0 - self._progress(self.config.strength_ramp))

    # -- one step --------------------------------------------------------------------------
    def train_step(self) -> tuple[float, float]:
        """One optimisation step; returns (loss, bit accuracy on marked images)."""
        c, size = self.config, self.model.config.size
        severity = self.severity()
        probability = c.attack_probability * (0.33 + 0.67 * severity)
        images = self.sampler.sample(c.batch_size)
        bits = torch.randint(0, 2, (c.batch_size, self.model.config.num_bits), generator=self.gen).float()
        carriers = self.model.carriers(bytes(torch.randint(0, 256, (32,), generator=self.gen).tolist()))
        residual = self.model.residual(to_internal(images, size), bits, carriers)
        marked = quantise(add_residual(images, residual, self.strength()))
        unmarked = images[: max(0, round(c.batch_size * c.unmarked_fraction))]
        inputs = torch.cat([marked, quantise(unmarked)])
        attacked = [to_internal(self.attacks(inputs[i : i + 1], severity, probability)[0], size) for i in range(len(inputs))]
        logits = self.model.decode_logits(torch.cat(attacked), carriers, search=False)
        loss = F.binary_cross_entropy_with_logits(logits[: c.batch_size], bits)
        if len(unmarked):
            loss = loss + 0.2 * F.binary_cross_entropy_with_logits(
                logits[c.batch_size :], torch.full_like(logits[c.batch_size :], 0.5)
            )
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.optimizer.step()
        self.state.step += 1
        accuracy = ((logits[: c.batch_size] > 0).float() == bits).float().mean().item()
        return loss.item(), accuracy

    # -- checkpoints -----------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        """Write model, optimizer, progress and RNG state atomically to ``out/checkpoint.pt``."""
        payload = {
            "train_config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "state": asdict(self.state),
            "rng": self.gen.get_state(),
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        write_bytes_atomic(self.out / CHECKPOINT, buffer.getvalue())
        return self.out / CHECKPOINT

    def load_checkpoint(self, payload: dict[str, Any]) -> None:
        """Restore model, optimizer, progress and RNG state from a checkpoint payload."""
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.state = TrainState(**payload["state"])
        self.gen.set_state(payload["rng"])

    # -- validation ------------------------------------------------------------------------
    def validate(self) -> Evaluation:
        """Evaluate on the validation photos; export the model to ``out/best`` when it improves."""
        result = evaluate(self.model, self.validation, evaluation_attacks(), seed=1)
        score = result.mean_accuracy()
        if score > self.state.best_score:
            self.state.best_score, self.state.best_step = score, self.state.step
            card = f"# Best checkpoint of {self.out}\n\nstep {self.state.step}, validation: {result.summary()}\n"
            export_model(self.model, self.out / "best", "best", card, half=False)
            write_bytes_atomic(self.out / "best" / "validation.json", json.dumps(_as_json(result), indent=2).encode())
        return result

    # -- loop ------------------------------------------------------------------------------
    def run(self) -> TrainState:
        """Train until ``config.steps``, logging, validating and checkpointing; checkpoint on exit."""
        self.out.mkdir(parents=True, exist_ok=True)
        c = self.config
        torch.set_num_threads(c.threads)
        last_save = started = time.monotonic()
        elapsed0, window = self.state.elapsed, []
        try:
            while self.state.step < c.steps:
                t0 = time.monotonic()
                loss, accuracy = self.train_step()
                window.append((loss, accuracy, time.monotonic() - t0))
                self.state.elapsed = elapsed0 + time.monotonic() - started
                if self.state.step % c.log_every == 0 or self.state.step == c.steps:
                    n = len(window)
                    self._log(
                        f"step {self.state.step}/{c.steps} loss {sum(w[0] for w in window) / n:.4f} "
                        f"acc {sum(w[1] for w in window) / n:.4f} lr {self.learning_rate():.2e} "
                        f"severity {self.severity():.2f} strength {self.strength():.2f} "
                        f"{sum(w[2] for w in window) / n:.2f}s/step"
                    )
                    window = []
                if self.state.step % c.eval_every == 0 or self.state.step == c.steps:
                    self._log(f"val step {self.state.step}: {self.validate().summary()}")
                if time.monotonic() - last_save > 60 * c.checkpoint_minutes:
                    self.save_checkpoint()
                    last_save = time.monotonic()
        finally:
            self.state.elapsed = elapsed0 + time.monotonic() - started
            self.save_checkpoint()
            self._log(f"checkpoint at step {self.state.step} ({self.state.elapsed / 60:.1f} min in total)")
        return self.state

    def _log(self, line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        self.echo(stamped)
        with open(self.out / LOG, "a", encoding="utf-8") as handle:
            handle.write(stamped + "\n")


def _as_json(result: Evaluation) -> dict[str, Any]:
    return {"psnr": result.psnr, "scores": {k: asdict(v) for k, v in result.scores.items()}}


def open_trainer(
    out: str | Path, config: TrainConfig | None, resume: bool, log: Callable[[str], None] = print
) -> Trainer:
    """A trainer for a new run (``config``) or for resuming the run in ``out``.

    When resuming, the stored config is used; a given ``config`` may only change ``steps``.
    """
    checkpoint = Path(out) / CHECKPOINT
    if not resume:
        if checkpoint.exists():
            raise ModelError(f"{out} already holds a training run; pass --resume to continue it")
        if config is None:
            raise ModelError("a new training run needs a config")
        return Trainer(config, out, log)
    if not checkpoint.exists():
        raise ModelError(f"{checkpoint}: no checkpoint to resume from")
    try:
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
        stored = TrainConfig.from_dict(payload["train_config"])
    except Exception as exc:  # torch raises many types for corrupt files
        raise ModelError(f"{checkpoint}: unreadable checkpoint ({type(exc).__name__})") from exc
    if config is not None:
        stored = replace(stored, steps=config.steps)
    trainer = Trainer(replace(stored, init=None), out, log)
    trainer.config = stored
    trainer.load_checkpoint(payload)
    log(f"resumed at step {trainer.state.step}")
    return trainer
