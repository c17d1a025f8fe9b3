"""Stages of the experiment: data (crops, registry, product marking), training, sampling, evaluation.

Every stage writes its outputs under the run folder and skips work already done, so a killed
run resumes where it stopped. Marking and attribution go through the ``provmark`` command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.promark import datasets, diffusion, metrics
from benchmarks.promark.unet import UNetConfig
from provmark.concepts.registry import Registry
from provmark.watermark.concept_channel import channel_logits, embed_channel, match_codes
from provmark.watermark.decision import raw_bits
from provmark.watermark.marking import watermark_logits

MARK_SIZE = 128  # the product mark's minimum side: crops are marked at this size
PROVMARK = [sys.executable, "-c", "from provmark.cli.main import main; main()"]


@dataclass
class RunConfig:
    """Everything that defines a run (stored as ``config.json`` in the run folder)."""

    setting: str  # "lookalike" or "distinct"
    data: str  # folder with photos/ and concepts/, or a folder of images (each its own group)
    concepts: int
    per_concept: int
    res: int
    strength: float  # product mark strength of every marked variant
    variants: list[str]  # "control", "mark" (product mark only), "chan<A>" (product mark + channel at A levels)
    steps: int
    samples: int  # per concept
    ddim_steps: int = 50
    widths: tuple[int, ...] = (32, 64, 96)
    batch: int = 32
    seed: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def provmark(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``provmark`` command; exit codes 0 and 3 (nothing found) are normal."""
    done = subprocess.run([*PROVMARK, *args], capture_output=True, text=True)
    if done.returncode not in (0, 3):
        raise RuntimeError(f"provmark {' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return done


def concept_sets(cfg: RunConfig) -> dict[str, list[datasets.CropSpec]]:
    """The crops of each concept for the run's setting."""
    data = Path(cfg.data)
    if (data / "photos").is_dir():
        groups = datasets.shared_groups(data)
    else:
        groups = {p.stem: [p] for p in datasets.list_images(data)}
    if cfg.setting == "distinct":
        return datasets.distinct_sets(groups, cfg.concepts, cfg.per_concept)
    return datasets.lookalike_sets(groups, cfg.concepts, cfg.per_concept, cfg.seed)


def prepare_data(cfg: RunConfig, out: Path, jobs: int) -> list[str]:
    """Crops under ``src/``, a registry with one concept per set, product-marked copies under ``marked/``."""
    sets = concept_sets(cfg)
    datasets.write_sets(sets, out / "src", MARK_SIZE)
    names = sorted(sets)
    registry = out / "registry.db"
    with Registry.open(registry, create=True) as reg:
        missing = [n for n in names if reg.get(n) is None]
    if missing:
        provmark("concepts", "add", "--registry", str(registry), *missing, "--owner", "promark-benchmark")
    if any(v != "control" for v in cfg.variants):
        provmark("mark", str(out / "src"), str(out / "marked"), "--registry", str(registry), "--concept-from-dir",
                 "--strength", str(cfg.strength), "-j", str(jobs))
    return names


def to_tensor(images: list[Image.Image], res: int) -> torch.Tensor:
    """Images area-resized to ``res`` as a (N,3,res,res) tensor in [-1,1]."""
    arrays = [np.asarray(im.convert("RGB").resize((res, res), Image.Resampling.BOX), dtype=np.float32) for im in images]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 127.5 - 1.0


def to_images(batch: torch.Tensor) -> list[Image.Image]:
    """(N,3,H,W) in [-1,1] back to 8-bit RGB images."""
    arrays = ((batch.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    return [Image.fromarray(a, "RGB") for a in arrays]


def channel_amplitude(variant: str) -> float | None:
    """The concept channel amplitude of a variant name ("chan8" -> 8.0), None if it has none."""
    return float(variant[4:]) if variant.startswith("chan") else None


def training_images(cfg: RunConfig, out: Path, names: list[str], variant: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The variant's training set at the run's resolution (cached in ``data/<variant>.pt``)."""
    cache = out / "data" / f"{variant}.pt"
    if cache.exists():
        saved = torch.load(cache)
        return saved["images"], saved["labels"]
    folder = out / ("src" if variant == "control" else "marked")
    amplitude = channel_amplitude(variant)
    images, labels = [], []
    with Registry.open(out / "registry.db") as reg:
        key = reg.watermark_key
        for label, name in enumerate(names):
            payload = reg.payload(reg.require(name))
            for path in sorted((folder / name).glob("*.png")):
                with Image.open(path) as im:
                    image = im.convert("RGB")
                if amplitude is not None:
                    image = embed_channel(image, payload, key, amplitude, cfg.res)
                images.append(image)
                labels.append(label)
    tensor, label_t = to_tensor(images, cfg.res), torch.tensor(labels)
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"images": tensor, "labels": label_t}, cache)
    return tensor, label_t


def train_variant(cfg: RunConfig, out: Path, names: list[str], variant: str, minutes: float | None) -> int:
    """Train (or continue training) one variant's generator; returns the step reached.

    A committed run has ``generator.pt`` but no ``ckpt.pt`` (optimiser state stays local): it is
    used as is when it reached ``cfg.steps``; training further needs the checkpoint.
    """
    folder = out / "models" / variant
    if not (folder / "ckpt.pt").exists() and (folder / diffusion.GENERATOR).exists():
        step = int(torch.load(folder / diffusion.GENERATOR, map_location="cpu", weights_only=False)["step"])
        if step < cfg.steps:
            raise SystemExit(f"promark: {variant} has a shipped generator at step {step} but no ckpt.pt to train on to "
                             f"{cfg.steps}: use --steps {step} to sample it, or a new --out")
        return step
    images, labels = training_images(cfg, out, names, variant)
    unet = UNetConfig(classes=len(names), widths=tuple(cfg.widths))
    train = diffusion.TrainConfig(steps=cfg.steps, batch=cfg.batch, seed=cfg.seed)
    return diffusion.train(images, labels, unet, train, out / "models" / variant, minutes)


def generator_file(out: Path, variant: str) -> Path:
    """The variant's committed ``generator.pt`` (exported from ``ckpt.pt`` when that is newer)."""
    folder = out / "models" / variant
    generator, ckpt = folder / diffusion.GENERATOR, folder / "ckpt.pt"
    if ckpt.exists() and (not generator.exists() or generator.stat().st_mtime < ckpt.stat().st_mtime):
        diffusion.export_generator(torch.load(ckpt, map_location="cpu", weights_only=False), generator)
    return generator


def sample_variant(cfg: RunConfig, out: Path, names: list[str], variant: str) -> Path:
    """Sample ``cfg.samples`` per concept; PNGs upsampled to 128 px (the mark's minimum) under samples/."""
    folder = out / "samples" / variant
    generator = generator_file(out, variant)
    step = torch.load(generator, map_location="cpu", weights_only=False)["step"]
    stamp = folder / "step.txt"
    if stamp.exists() and stamp.read_text().strip() == str(step):
        return folder
    labels = torch.arange(len(names)).repeat_interleave(cfg.samples)
    batch = diffusion.ddim_sample(diffusion.load_ema(generator), labels, cfg.res, cfg.ddim_steps, seed=cfg.seed + 1)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"samples": batch, "labels": labels}, out / "samples" / f"{variant}.pt")
    for i, (image, label) in enumerate(zip(to_images(batch), labels.tolist())):
        path = folder / names[label] / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.resize((MARK_SIZE, MARK_SIZE), Image.Resampling.BICUBIC).save(path)
    stamp.write_text(str(step))
    return folder


def attribute_folder(folder: Path, registry: Path, names: list[str]) -> tuple[list[int], list[int | None]]:
    """Run ``provmark attribute --json`` on a folder laid out as ``<concept>/<file>``: truth and top-1."""
    done = provmark("attribute", str(folder), "--registry", str(registry), "--json")
    index = {n.lower(): i for i, n in enumerate(names)}
    truth, predicted = [], []
    for line in done.stdout.splitlines():
        row = json.loads(line)
        truth.append(index[Path(row["path"]).parent.name.lower()])
        found = row["concepts"]
        predicted.append(index[found[0]["name"].lower()] if found else None)
    return truth, predicted


def channel_attribution(
    images: list[Image.Image], reg: Registry, names: list[str], grid: int
) -> tuple[list[int | None], list[int], np.ndarray]:
    """Concept channel top-1 among the registry's concepts: attributed (p <= 1e-6), forced choice, raw logits."""
    key = reg.watermark_key
    payloads = [reg.payload(reg.require(n)) for n in names]
    matches = [match_codes(im, key, payloads, grid) for im in images]
    forced = [int(np.argmax(m.z)) for m in matches]
    return [m.index for m in matches], forced, np.stack([channel_logits(im, key, grid) for im in images])


def evaluate_variant(cfg: RunConfig, out: Path, names: list[str], variant: str, sample_dir: Path) -> dict:
    """All scores of one variant's samples (see :mod:`benchmarks.promark.metrics`)."""
    saved = torch.load(out / "samples" / f"{variant}.pt")
    samples, labels = saved["samples"], saved["labels"]
    train_x, train_y = training_images(cfg, out, names, variant)
    reference, _ = training_images(cfg, out, names, "control")
    registry = out / "registry.db"
    truth, product = attribute_folder(sample_dir, registry, names)
    images = to_images(samples)
    with Registry.open(registry) as reg:
        chan_pred, chan_forced, chan_logits = channel_attribution(images, reg, names, cfg.res)
        key = reg.watermark_key
        bits = np.stack([raw_bits(reg.payload(reg.require(names[y])), key) for y in labels.tolist()])
    big = [im.resize((MARK_SIZE, MARK_SIZE), Image.Resampling.BICUBIC) for im in images]
    product_logits = np.stack([watermark_logits(im, key)[0, :128] for im in big])  # row 0: the model's own view, codeword bits
    similar = metrics.nearest_concept(samples, train_x, train_y)
    ckpt = torch.load(generator_file(out, variant), map_location="cpu", weights_only=False)
    return {
        "variant": variant,
        "train_steps": ckpt["step"],
        "samples": len(truth),
        "product_mark": asdict(metrics.attribution(truth, product, names)),
        "product_bit_accuracy": metrics.bit_accuracy(product_logits, bits),
        "concept_channel": asdict(metrics.attribution(labels.tolist(), chan_pred, names)),
        "concept_channel_forced_choice": metrics.attribution(labels.tolist(), chan_forced, names).accuracy,
        "channel_bit_accuracy": metrics.bit_accuracy(chan_logits, bits),
        "similarity_baseline": asdict(metrics.attribution(labels.tolist(), similar, names)),
        "quality_fd": metrics.quality(samples, reference),
        "training_data_fd": metrics.quality(train_x, reference),  # what the mark alone costs, before any model
        "quality_patch_fd": metrics.patch_quality(samples, reference),
        "training_data_patch_fd": metrics.patch_quality(train_x, reference),
    }


def data_ceiling(cfg: RunConfig, out: Path, names: list[str], variant: str, limit: int) -> dict:
    """Attribution of the variant's own training images at the training resolution (upsampled to 128 px).

    The generator cannot do better than its data: this says whether each mark survives the
    downscale to ``cfg.res`` at all.
    """
    images, labels = training_images(cfg, out, names, variant)
    pick = torch.arange(0, images.shape[0], max(1, images.shape[0] // limit))[:limit]
    folder = out / "ceiling" / variant
    for i in pick.tolist():
        path = folder / names[int(labels[i])] / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        to_images(images[i : i + 1])[0].resize((MARK_SIZE, MARK_SIZE), Image.Resampling.BICUBIC).save(path)
    truth, product = attribute_folder(folder, out / "registry.db", names)
    with Registry.open(out / "registry.db") as reg:
        chan, _, _ = channel_attribution(to_images(images[pick]), reg, names, cfg.res)
    return {
        "variant": variant,
        "images": len(truth),
        "product_mark_accuracy": metrics.attribution(truth, product, names).accuracy,
        "product_mark_attributed": metrics.attribution(truth, product, names).attributed,
        "concept_channel_accuracy": metrics.attribution(labels[pick].tolist(), chan, names).accuracy,
        "concept_channel_attributed": metrics.attribution(labels[pick].tolist(), chan, names).attributed,
    }
