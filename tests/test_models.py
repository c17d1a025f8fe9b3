"""The model contract, the shared embedding functions, the registry and the texture mask."""

from __future__ import annotations

import dataclasses

import io

import pytest
import torch

from provmark.errors import ModelError
from provmark.models import ModelConfig, WatermarkModel, add_residual, available_models, load_model, to_internal
from provmark.models.augment import quantise
from provmark.models.hub import export_model, model_from_bytes, weights_bytes
from provmark.models.masking import texture_mask
from provmark.models.networks import alignment_thetas

TINY = ModelConfig(size=64, grid=16, tile=16, decoder_width=8)
KEY = bytes(range(32))


def test_default_model_contract() -> None:
    model = load_model("default")
    assert load_model("default") is model
    assert not model.training
    s, n = model.config.size, model.config.num_bits
    assert (s, n) == (256, 144)
    assert set(model.state_dict()) == {"logit_scale", "spectrum"} | {f"whitener.{k}" for k in model.whitener.state_dict()}
    images = torch.rand(2, 3, 300, 500)
    images_s = to_internal(images, s)
    assert images_s.shape == (2, 3, s, s)
    bits = torch.randint(0, 2, (2, n)).float()
    carriers = model.carriers(KEY)
    residual = model.residual(images_s, bits, carriers)
    assert residual.shape == (2, 1, s, s)
    rms = residual.pow(2).mean(dim=(1, 2, 3)).sqrt()
    assert torch.allclose(rms, torch.full_like(rms, model.config.target_rms), rtol=1e-3)
    marked = add_residual(images, residual, 1.0)
    assert marked.shape == images.shape and marked.min() >= 0 and marked.max() <= 1
    assert model.decode_logits(to_internal(marked, s), carriers).shape == (2, n)


def test_default_model_is_deterministic() -> None:
    model = load_model("default")
    gen = torch.Generator().manual_seed(3)
    images_s = torch.rand(1, 3, 256, 256, generator=gen)
    bits = torch.randint(0, 2, (1, 144), generator=gen).float()
    carriers = model.carriers(KEY)
    assert torch.equal(model.residual(images_s, bits, carriers), model.residual(images_s, bits, carriers))
    assert torch.equal(model.decode_logits(images_s, carriers), model.decode_logits(images_s, carriers))


def test_default_model_round_trip_on_photos(photo_paths) -> None:
    from provmark.models.data import load_rgb, to_float
    from provmark.models.evaluation import mark

    model = load_model("default")
    gen = torch.Generator().manual_seed(0)
    accuracies = []
    carriers = model.carriers(KEY)
    for image in load_rgb(photo_paths):
        bits = torch.randint(0, 2, (1, 144), generator=gen).float()
        marked = mark(model, to_float(image), bits, carriers)
        logits = model.decode_logits(to_internal(marked, 256), carriers)
        accuracies.append(((logits > 0).float() == bits).float().mean().item())
    assert sum(accuracies) / len(accuracies) > 0.95


def test_add_residual_upsamples_scales_and_clamps() -> None:
    images = torch.full((1, 3, 40, 60), 0.5)
    residual = torch.full((1, 1, 8, 8), 0.1)
    out = add_residual(images, residual, 2.0)
    assert out.shape == (1, 3, 40, 60)
    assert torch.allclose(out, torch.full_like(out, 0.7))
    assert add_residual(images, residual, 10.0).max() == 1.0
    assert torch.equal(add_residual(images, residual, 0.0), images)


def test_to_internal_squashes_any_aspect() -> None:
    images = torch.rand(3, 3, 123, 457)
    assert to_internal(images, 64).shape == (3, 3, 64, 64)
    square = torch.rand(1, 3, 64, 64)
    assert torch.equal(to_internal(square, 64), square)


def test_texture_mask_is_weak_on_flat_areas() -> None:
    gen = torch.Generator().manual_seed(1)
    image = torch.full((1, 3, 64, 64), 0.5)
    image[..., 32:] += 0.2 * torch.rand(1, 3, 64, 32, generator=gen)
    mask = texture_mask(image, 0.15, 3.0)
    assert mask[..., 8:56, :20].max() == pytest.approx(0.15)
    assert mask[..., 8:56, 40:].mean() > 1.5


def test_unknown_model_and_bad_weights_raise_model_error() -> None:
    assert "default" in available_models()
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        load_model("nope")
    with pytest.raises(ModelError, match="unknown model"):
        load_model("../default")
    config = TINY.to_dict()
    import json

    with pytest.raises(ModelError, match="unreadable or mismatched weights"):
        model_from_bytes(json.dumps(config).encode(), b"not a checkpoint", "test")
    other = weights_bytes(WatermarkModel(ModelConfig(size=64, grid=32, decoder_width=8)))
    with pytest.raises(ModelError, match="unreadable or mismatched weights"):
        model_from_bytes(json.dumps(config).encode(), other, "test")


def test_config_validation_and_round_trip() -> None:
    assert ModelConfig.from_json(io.StringIO(__import__("json").dumps(TINY.to_dict())).getvalue()) == TINY
    with pytest.raises(ModelError, match="unknown model config key"):
        ModelConfig.from_dict({"colour": 1})
    with pytest.raises(ModelError, match="grid"):
        ModelConfig.from_dict({"size": 100, "grid": 64})
    with pytest.raises(ModelError, match="tile"):
        ModelConfig.from_dict({"grid": 128, "tile": 48})
    with pytest.raises(ModelError, match="tile"):
        ModelConfig.from_dict({"grid": 128, "tile": 8})  # 64 cells cannot hold 144 carriers
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelConfig.from_json("{")


def test_export_and_reload_keeps_outputs(tmp_path) -> None:
    torch.manual_seed(0)
    model = WatermarkModel(TINY).eval()
    export_model(model, tmp_path, "tiny", "# card\n", half=True)
    reloaded = model_from_bytes((tmp_path / "tiny.json").read_bytes(), (tmp_path / "tiny.pt").read_bytes(), "tiny")
    images_s = torch.rand(2, 3, 64, 64)
    bits = torch.randint(0, 2, (2, 144)).float()
    carriers = model.carriers(KEY)
    assert torch.allclose(model.residual(images_s, bits, carriers), reloaded.residual(images_s, bits, carriers), atol=2e-4)
    assert (tmp_path / "tiny.md").read_text() == "# card\n"


def test_alignment_search_starts_with_identity_and_recovers_a_zoom() -> None:
    thetas = alignment_thetas(TINY)
    assert thetas.shape[0] == len(TINY.zooms) + len(TINY.angles)  # identity, other zooms, rotations
    assert torch.equal(thetas[0], torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    sheared = alignment_thetas(dataclasses.replace(TINY, angles=(), shears=(-0.03, 0.0, 0.03)))
    assert sheared.shape[0] == len(TINY.zooms) + 9 - 1  # the (0, 0) pair is the identity
    wide = alignment_thetas(TINY, aspect=2.0)  # rotations become unequal shears after the squash
    assert torch.allclose(wide[-1, 1, 0], thetas[-1, 1, 0] * 2) and torch.allclose(wide[-1, 0, 1], thetas[-1, 0, 1] / 2)
    # A flat grey image marked strongly, then magnified 1.12x about the centre (an 80% crop):
    # identity alignment loses the bits, the search finds them.
    torch.manual_seed(0)
    model = WatermarkModel(ModelConfig(size=256, mask_floor=1.0, mask_ceiling=1.0)).eval()
    gen = torch.Generator().manual_seed(2)
    image = 0.5 + 0.02 * torch.rand(1, 3, 256, 256, generator=gen)
    bits = torch.randint(0, 2, (1, 144), generator=gen).float()
    carriers = model.carriers(KEY)
    marked = quantise(add_residual(image, model.residual(image, bits, carriers), 3.0))
    cropped = to_internal(marked[..., 14:242, 14:242], 256)
    with torch.no_grad():
        plain = ((model.decode_logits(cropped, carriers, search=False) > 0).float() == bits).float().mean()
        searched = ((model.decode_logits(cropped, carriers) > 0).float() == bits).float().mean()
    assert plain < 0.75
    assert searched > 0.95


def test_host_interference_cancellation_helps_the_default_model(photo_paths) -> None:
    import dataclasses

    from provmark.models.augment import evaluation_attacks
    from provmark.models.data import load_rgb, to_float
    from provmark.models.evaluation import evaluate

    shipped = load_model("default")
    assert shipped.config.cancel_steps >= 1
    plain = WatermarkModel(dataclasses.replace(shipped.config, cancel_steps=0)).eval()
    plain.load_state_dict(shipped.state_dict())
    images = [to_float(img) for img in load_rgb(photo_paths)]
    clean = {"clean": evaluation_attacks()["clean"]}
    with_cancel = evaluate(shipped, images, clean, seed=4)
    without = evaluate(plain, images, clean, seed=4)
    assert with_cancel.scores["clean"].bit_accuracy > without.scores["clean"].bit_accuracy
    assert abs(with_cancel.psnr - without.psnr) < 0.3
