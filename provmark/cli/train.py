"""``provmark train``: train a watermark model into a run folder (resumable)."""

from __future__ import annotations

import signal
import sys
from dataclasses import replace

import click

from provmark.cli.common import one_line_errors
from provmark.errors import ModelError


@click.command()
@click.option("--data", "data", type=click.Path(file_okay=False), help="Folder of training photos (hold-out rule applied).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Run folder: checkpoint, log, best model.")
@click.option("--steps", type=click.IntRange(min=1), help="Total optimisation steps (default 4000; on --resume, extends the run).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of initialisation, crops, bits and attacks.")
@click.option("--batch-size", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--lr", type=float, default=3e-3, show_default=True, help="Peak learning rate.")
@click.option("--min-crop", type=click.IntRange(min=16), default=256, show_default=True, help="Smallest crop side (px).")
@click.option("--max-crop", type=click.IntRange(min=16), default=400, show_default=True, help="Largest crop side (px).")
@click.option("--size", type=click.IntRange(min=16), help="Internal resolution S (default: ModelConfig's).")
@click.option("--grid", type=click.IntRange(min=4), help="Pattern grid per bit (default: ModelConfig's).")
@click.option("--init", "init", help="Start from a shipped model's weights (e.g. 'default'); its config wins.")
@click.option("--eval-every", type=click.IntRange(min=1), default=200, show_default=True, help="Validate every N steps.")
@click.option("--checkpoint-minutes", type=float, default=5.0, show_default=True)
@click.option("--strength-start", type=float, default=2.0, show_default=True, help="Embedding strength at step 0 (decays to 1).")
@click.option("--severity-ramp", type=float, default=0.4, show_default=True, help="Share of the run over which attacks ramp up.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Torch CPU threads.")
@one_line_errors
def train(data: str | None, out: str, steps: int | None, resume: bool, seed: int, batch_size: int, lr: float,
          min_crop: int, max_crop: int, size: int | None, grid: int | None, init: str | None, eval_every: int,
          checkpoint_minutes: float, strength_start: float, severity_ramp: float, threads: int) -> None:
    """Train a watermark model; Ctrl-C or SIGTERM saves a checkpoint, --resume continues."""
    from provmark.api import ModelConfig, TrainConfig, train_model

    if not resume and not data:
        raise ModelError("--data is required for a new training run")
    if min_crop > max_crop:
        raise ModelError(f"--min-crop {min_crop} is larger than --max-crop {max_crop}")
    config = None
    if not resume or steps is not None:
        config = TrainConfig(
            data=data or "", seed=seed, batch_size=batch_size, lr=lr, min_crop=min_crop, max_crop=max_crop,
            init=init, eval_every=eval_every, checkpoint_minutes=checkpoint_minutes, threads=threads,
            strength_start=strength_start, severity_ramp=severity_ramp,
            model=ModelConfig.from_dict({k: v for k, v in (("size", size), ("grid", grid)) if v is not None}),
        )
        if steps is not None:
            config = replace(config, steps=steps)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        state = train_model(out, config, resume=resume, log=click.echo)
    except KeyboardInterrupt:
        # the run logs its checkpoint on the way out ("checkpoint at step N"), unless it had not started
        click.echo(f"interrupted; continue with: provmark train --out {out} --resume", err=True)
        sys.exit(130)
    click.echo(f"done: step {state.step}, best validation bit accuracy {state.best_score:.4f} at step {state.best_step}")
