"""Model cards: Markdown describing how shipped weights were made and what they measure."""

from __future__ import annotations

from dataclasses import dataclass

from provmark.models.config import ModelConfig
from provmark.models.evaluation import Evaluation, Timings
from provmark.models.training import TrainConfig, TrainState


@dataclass
class CardFacts:
    """What a card states besides the measurements."""

    name: str
    command: str
    data: str
    heldout_count: int
    notes: str = ""


def _turns(m: ModelConfig) -> str:
    """The rotation part of the alignment search, in words."""
    if m.angles:
        return f"{len(m.angles)} rotations ({min(m.angles)}..{max(m.angles)} degrees, for the image's aspect ratio)"
    return f"{len(m.shears)}x{len(m.shears)} shear pairs ({m.shears[0]}..{m.shears[-1]})"


def render_card(facts: CardFacts, config: TrainConfig, state: TrainState, heldout: Evaluation, timings: Timings) -> str:
    """Markdown model card: data, exact command, seed, steps, wall time, held-out metrics, speed."""
    m = config.model
    rows = "\n".join(
        f"| {name} | {score.bit_accuracy:.4f} | {score.decodable:.3f} |" for name, score in heldout.scores.items()
    )
    h, w = timings.full_size
    return f"""# Model card: `{facts.name}`

Neural image watermark for provmark: 128 raw bits (a BCH(127,64) codeword plus one spare bit
is what the watermark layer puts in them), luma residual, any resolution via a {m.size}x{m.size}
internal square. Load with `provmark.models.load_model("{facts.name}")`.

## Design
- Each bit owns a learned {m.grid}x{m.grid} pattern; the encoder adds the patterns with the bit
  signs, upsamples to {m.size}x{m.size}, multiplies by an analytic luma-texture mask (gain
  {m.mask_floor}..{m.mask_ceiling} of the image's mean texture) and scales to RMS {m.target_rms}
  (PSNR fixed by construction), after {m.cancel_steps} round(s) of host-interference cancellation
  (fraction {m.cancel_fraction}).
- The decoder whitens the image (grid-scale high-pass plus a small learned conv net) and
  correlates with the same patterns (z-scores) under {len(m.zooms)} zooms ({m.zooms[0]}..{m.zooms[-1]})
  and {_turns(m)}, keeping the best match and refining it by {m.refine_steps} rounds of hill
  climbing: this undoes centre crops and small rotations.

## Training
- Data: {facts.data}. Hold-out rule shared with the benchmark: sorted file names, index % 5 == 0
  held out ({facts.heldout_count} photos), never used in training; {config.validation_count} more
  photos are kept aside for validation (checkpoint selection).
- Command: `{facts.command}`
- Seed {config.seed}; {state.step} steps of batch {config.batch_size} (best validation checkpoint
  at step {state.best_step}); wall time {state.elapsed / 60:.1f} min on a shared 2-core CPU,
  {config.threads} torch thread(s).
- Pipeline per step: random crops {config.min_crop}..{config.max_crop} px -> internal resize ->
  residual -> upsample and add at crop resolution -> 8-bit rounding (straight-through) -> random
  attack chain (resize, near-centre crop, small rotation, blur, noise, brightness, contrast, then
  real JPEG or WebP with a straight-through gradient) -> internal resize -> decoder; loss is BCE
  on the bits (plus a small term keeping logits of unmarked images near 0). Attack severity
  ramps up over the first {config.severity_ramp:.0%} of the run, embedding strength decays from
  {config.strength_start} to 1 over the first {config.strength_ramp:.0%}.
- Resume an interrupted run: `provmark train --out RUN --resume` (add `--steps N` to extend).
  Fine-tune from these weights: `provmark train --data DIR --out NEW --init {facts.name} ...`.

## Held-out results ({facts.heldout_count} photos, full resolution, strength 1.0)
Mean PSNR {heldout.psnr:.2f} dB (8-bit, full resolution). "decodable" is the share of images
with at most 10 raw bit errors out of 128 (what BCH(127,64), t=10, corrects).

| attack | bit accuracy | decodable |
|---|---|---|
{rows}

## Speed (batch 1, this CPU, 1 thread)
- `residual` {timings.residual_ms:.1f} ms, `decode_logits` {timings.decode_ms:.1f} ms at {m.size}x{m.size}.
- Whole embed of a {w}x{h} image (resize, residual, upsample, add) {timings.embed_full_ms:.1f} ms;
  whole decode (resize, decode) {timings.decode_full_ms:.1f} ms.

{facts.notes}
"""
