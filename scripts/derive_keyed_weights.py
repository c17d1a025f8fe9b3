"""Derive keyed-carrier weights from v1 weights with learned patterns (one-off, reproducible).

Keeps the whitener and logit scale, replaces the 128 learned patterns by their radial power
profile (64 rings), the only thing keyed carriers take from them, and writes the model files:

    .venv/bin/python scripts/derive_keyed_weights.py V1_WEIGHTS.pt OUT_DIR NAME
    (v1 weights: git show 28a8098:provmark/models/weights/default.pt > v1.pt)
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provmark.models.carriers import radial_profile  # noqa: E402
from provmark.models.config import ModelConfig  # noqa: E402
from provmark.models.networks import WatermarkModel  # noqa: E402
from provmark.models.hub import export_model, model_card  # noqa: E402


def main(v1: str, out: str, name: str) -> None:
    state = torch.load(io.BytesIO(Path(v1).read_bytes()), map_location="cpu", weights_only=True)
    patterns = state["patterns"].float()
    patterns = patterns - patterns.mean(dim=(1, 2), keepdim=True)
    patterns = patterns / patterns.pow(2).mean(dim=(1, 2), keepdim=True).sqrt()
    model = WatermarkModel(ModelConfig())
    model.whitener.load_state_dict({k[len("whitener."):]: v.float() for k, v in state.items() if k.startswith("whitener.")})
    model.logit_scale.data = state["logit_scale"].float()
    model.spectrum.copy_(radial_profile(patterns, model.config.spectrum_bins))
    export_model(model, out, name, model_card(name) if (Path(out) / f"{name}.md").exists() else f"# {name}\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
