"""DDPM training (epsilon prediction, cosine schedule) with resumable checkpoints, and DDIM sampling."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from benchmarks.promark.unet import UNet, UNetConfig

STEPS_T = 1000


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of one generator."""

    steps: int
    batch: int = 32
    lr: float = 1e-3
    warmup: int = 100
    ema: float = 0.995
    checkpoint_every: int = 200
    seed: int = 0


def alpha_bars(steps: int = STEPS_T) -> torch.Tensor:
    """Cumulative signal fractions of the cosine schedule, (steps,)."""
    s = 0.008
    t = torch.linspace(0, steps, steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return (f[1:] / f[0]).clamp(1e-5, 0.9999).float()


#: The sampling-only file next to each ``ckpt.pt`` (``ckpt.pt`` holds the optimiser too, for resuming).
GENERATOR = "generator.pt"


def build(config: UNetConfig) -> tuple[UNet, UNet]:
    """A fresh model and its EMA copy."""
    model = UNet(config)
    ema = UNet(config)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    return model, ema


def load_ema(path: Path) -> UNet:
    """The EMA generator stored in a checkpoint or a ``generator.pt``, in eval mode."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = UNet(UNetConfig(**state["unet"]))
    model.load_state_dict(state["ema"])
    return model.eval()


def train(images: torch.Tensor, labels: torch.Tensor, unet: UNetConfig, config: TrainConfig, folder: Path,
          minutes: float | None = None) -> int:
    """Train on ``images`` (N,3,H,W in [-1,1]) until ``config.steps`` or ``minutes``; resumes from ``folder/ckpt.pt``.

    Writes ``ckpt.pt`` (model, EMA, optimiser, RNG, step) every ``checkpoint_every`` steps and
    at the end, and one JSON line per 50 steps to ``log.jsonl``. Returns the step reached.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = folder / "ckpt.pt"
    model, ema = build(unet)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(config.seed)
    step = 0
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["rng"])
        step = state["step"]
    abar = alpha_bars()
    start, losses = time.monotonic(), []
    log = (folder / "log.jsonl").open("a")
    while step < config.steps and (minutes is None or time.monotonic() - start < 60 * minutes):
        idx = torch.randint(0, images.shape[0], (config.batch,), generator=gen)
        x0, y = images[idx], labels[idx]
        t = torch.randint(0, STEPS_T, (config.batch,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        a = abar[t][:, None, None, None]
        loss = F.mse_loss(model(a.sqrt() * x0 + (1 - a).sqrt() * noise, t, y), noise)
        for group in opt.param_groups:
            group["lr"] = config.lr * min(1.0, (step + 1) / config.warmup)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1.0 - config.ema)
        step += 1
        losses.append(loss.item())
        if step % 50 == 0:
            rate = (time.monotonic() - start) / len(losses)
            log.write(json.dumps({"step": step, "loss": sum(losses[-50:]) / 50, "s_per_step": round(rate, 3)}) + "\n")
            log.flush()
        if step % config.checkpoint_every == 0 or step == config.steps:
            _save(ckpt, model, ema, opt, gen, step, unet, config)
    _save(ckpt, model, ema, opt, gen, step, unet, config)
    log.close()
    return step


def _save(path: Path, model: UNet, ema: UNet, opt: torch.optim.Optimizer, gen: torch.Generator, step: int,
          unet: UNetConfig, config: TrainConfig) -> None:
    state = {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "rng": gen.get_state(),
             "step": step, "unet": asdict(unet), "train": asdict(config)}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    export_generator(state, path.with_name(GENERATOR))


def export_generator(state: dict, path: Path) -> None:
    """Write the sampling-only part of a checkpoint state (EMA weights, UNet config, step): about
    a quarter of the checkpoint, what is committed for re-sampling without retraining."""
    tmp = path.with_suffix(".tmp")
    torch.save({"ema": state["ema"], "unet": state["unet"], "step": state["step"]}, tmp)
    tmp.replace(path)


@torch.inference_mode()
def ddim_sample(model: UNet, labels: torch.Tensor, size: int, steps: int = 50, seed: int = 0, batch: int = 64) -> torch.Tensor:
    """Deterministic DDIM (eta 0) samples for ``labels``, (N,3,size,size) in [-1,1]."""
    gen = torch.Generator().manual_seed(seed)
    abar = alpha_bars()
    times = torch.linspace(STEPS_T - 1, 0, steps).round().long()
    out = []
    for chunk in labels.split(batch):
        x = torch.randn((chunk.shape[0], model.config.channels, size, size), generator=gen)
        for i, t in enumerate(times):
            a = abar[t]
            a_prev = abar[times[i + 1]] if i + 1 < len(times) else torch.tensor(1.0)
            eps = model(x, t.repeat(chunk.shape[0]), chunk)
            x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
            eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        out.append(x.clamp(-1, 1))
    return torch.cat(out)
