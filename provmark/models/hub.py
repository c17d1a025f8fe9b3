"""Named, shipped model weights: ``<name>.json`` (config), ``<name>.pt`` (weights), ``<name>.md`` (card).

Weights live inside the package (``provmark/models/weights/``) and are read through
:mod:`importlib.resources`, never through a path relative to the repository or the cwd.
"""

from __future__ import annotations

import functools
import io
import json
import re
from importlib import resources
from pathlib import Path

import torch

from provmark.errors import ModelError
from provmark.io import write_bytes_atomic
from provmark.models.config import ModelConfig
from provmark.models.networks import WatermarkModel

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _weights_dir() -> resources.abc.Traversable:
    return resources.files("provmark.models") / "weights"


def available_models() -> list[str]:
    """Names of the shipped models (those with a config file)."""
    return sorted(entry.name[:-5] for entry in _weights_dir().iterdir() if entry.name.endswith(".json"))


def _read(name: str, suffix: str) -> bytes:
    entry = _weights_dir() / f"{name}{suffix}"
    try:
        return entry.read_bytes()
    except OSError as exc:
        raise ModelError(f"model {name!r}: cannot read {name}{suffix}: {exc.strerror or exc}") from exc


def model_card(name: str) -> str:
    """The Markdown model card of a shipped model."""
    _check_known(name)
    return _read(name, ".md").decode("utf-8")


def _check_known(name: str) -> None:
    if not _NAME.match(name) or name not in available_models():
        known = ", ".join(available_models()) or "none"
        raise ModelError(f"unknown model {name!r} (shipped models: {known})")


def model_from_bytes(config_json: bytes, weights: bytes, label: str) -> WatermarkModel:
    """Build a model in eval mode on CPU from a JSON config and a saved state dict."""
    config = ModelConfig.from_json(config_json.decode("utf-8"))
    model = WatermarkModel(config)
    try:
        state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
        model.load_state_dict({key: value.float() for key, value in state.items()})
    except Exception as exc:  # torch raises many types for corrupt or mismatched files
        raise ModelError(f"{label}: unreadable or mismatched weights ({type(exc).__name__})") from exc
    return model.eval()


@functools.lru_cache(maxsize=8)
def load_model(name: str = "default") -> WatermarkModel:
    """Load a shipped model by name (cached; eval mode; CPU; gradients disabled).

    Raises :class:`ModelError` for unknown names or unreadable weights.
    """
    _check_known(name)
    model = model_from_bytes(_read(name, ".json"), _read(name, ".pt"), f"model {name!r}")
    model.requires_grad_(False)
    return model


def weights_bytes(model: WatermarkModel, half: bool = True) -> bytes:
    """Serialise a model's state dict (float tensors in float16 when ``half``)."""
    state = {
        key: (value.half() if half and value.is_floating_point() else value).clone()
        for key, value in model.state_dict().items()
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def export_model(model: WatermarkModel, folder: str | Path, name: str, card: str, half: bool = True) -> Path:
    """Write ``<name>.json``, ``<name>.pt`` and ``<name>.md`` into ``folder``; return the weights path."""
    if not _NAME.match(name):
        raise ModelError(f"invalid model name {name!r} (use lower-case letters, digits, '.', '_', '-')")
    folder = Path(folder)
    write_bytes_atomic(folder / f"{name}.json", (json.dumps(model.config.to_dict(), indent=2) + "\n").encode())
    write_bytes_atomic(folder / f"{name}.pt", weights_bytes(model, half=half))
    write_bytes_atomic(folder / f"{name}.md", card.encode("utf-8"))
    return folder / f"{name}.pt"
