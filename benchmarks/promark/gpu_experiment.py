"""Issue 11 experiments a-d with diffusers generators: do models trained on training-marked copies carry the mark?

Settings (each with its never-marked control, d):
  a  from scratch, look-alike concepts, every image of every concept marked;
  b  a base model trained once on unmarked photos, fine-tuned on a set whose marked concepts are
     a quarter of the images (2 of 8 concepts);
  c  from scratch, concepts with 100 / 50 / 25 / 0 % of their images marked (two each).
Data: random square crops (catalog copies, ``--copy`` px) of the training photos of
``../shared/data/photos`` (hold-out rule: sorted names, index % 5 != 0), dealt at random into
the concepts; copies are marked with :func:`embed_training_mark` (or the concept channel, for
comparison) under a run registry, then every training step applies what a buyer's pipeline
does: random resized crop (60-100 % of the area, aspect 3/4..4/3) to ``--res`` px and a
horizontal flip. Generators: ``diffusers.UNet2DModel`` (class-conditional), ``DDPMScheduler``
(cosine), sampled with ``DDIMScheduler``, all built from configs (no download).

Per model: ``provmark.audit`` of the samples (grouped by class, and pooled), per-image forced
choice and attribution, the similarity baseline (nearest training copy's concept) and the
random-feature FD against the unmarked copies (vs the control's). Writes ``results.json``,
``log.jsonl`` per model and resumable ``ckpt.pt`` (``--resume``; weights-only ``generator.pt``).

    python -m benchmarks.promark.gpu_experiment --smoke --out /tmp/gpu-smoke          # CPU, ~1-2 min
    python -m benchmarks.promark.gpu_experiment --out benchmarks/promark/run-gpu64 --settings a --minutes 3.5
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from PIL import Image
from torch.nn import functional as F

from benchmarks.promark.metrics import quality
from provmark import ConceptSpec, Registry, audit
from provmark.watermark.concept_channel import channel_logits, embed_channel
from provmark.watermark.decision import raw_bits
from provmark.watermark.training_mark import code_signs, code_z, embed_training_mark, training_reading

ROOT = Path(__file__).resolve().parents[2]
FRACTIONS = {"a": [1.0] * 8, "b": [1.0, 1.0] + [0.0] * 6, "c": [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.0, 0.0]}


@dataclass
class Config:
    res: int = 64
    copy: int = 192
    concepts: int = 8
    per_concept: int = 96
    base_images: int = 1024
    steps: int = 20000
    minutes: float = 3.5  # per model, training only
    batch: int = 128
    lr: float = 2e-4
    widths: tuple[int, ...] = (64, 128, 128, 160)  # 10.6 M parameters: generator.pt (fp16) 21 MB
    samples_per_concept: int = 100
    ddim_steps: int = 50
    mark: str = "training"  # or "channel"
    level: float = 2.0
    seed: int = 0


def smoke_config() -> Config:
    return Config(res=32, copy=64, concepts=8, per_concept=6, base_images=16, steps=8, minutes=0.5, batch=8,
                  widths=(16, 32), samples_per_concept=3, ddim_steps=4)


def photos(folder: Path) -> list[Path]:
    names = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    return [p for i, p in enumerate(names) if i % 5 != 0]  # the held-out fifth is for the mark benchmark


def crops(sources: list[Image.Image], count: int, size: int, rng: np.random.Generator) -> list[Image.Image]:
    out = []
    for _ in range(count):
        photo = sources[int(rng.integers(len(sources)))]
        w, h = photo.size
        side = int(rng.integers(min(w, h) // 2, min(w, h) + 1))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        out.append(photo.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS))
    return out


def to_tensor(images: list[Image.Image]) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.asarray(i, dtype=np.uint8) for i in images])).permute(0, 3, 1, 2).contiguous()


def to_images(batch: torch.Tensor) -> list[Image.Image]:
    arrays = ((batch.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(a, "RGB") for a in arrays]


def augment(copies: torch.Tensor, res: int, gen: torch.Generator) -> torch.Tensor:
    """Random resized crop (60-100 % area, aspect 3/4..4/3) to ``res`` and random flip, in [-1, 1]."""
    n = copies.shape[0]
    area = torch.empty(n).uniform_(0.6, 1.0, generator=gen)
    ratio = torch.exp(torch.empty(n).uniform_(math.log(3 / 4), math.log(4 / 3), generator=gen))
    sw, sh = (area * ratio).sqrt().clamp(max=1.0), (area / ratio).sqrt().clamp(max=1.0)
    cx = (torch.rand(n, generator=gen) * 2 - 1) * (1 - sw)
    cy = (torch.rand(n, generator=gen) * 2 - 1) * (1 - sh)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sw * flip, cx, sh, cy
    x = copies.float() / 127.5 - 1.0
    if copies.shape[-1] > 2 * res:  # area-reduce first, so bilinear sampling does not alias
        x = F.interpolate(x, size=(2 * res, 2 * res), mode="area")
    grid = F.affine_grid(theta.to(x.device), [n, 3, res, res], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def build_unet(cfg: Config) -> UNet2DModel:
    depth = len(cfg.widths)
    down = ["DownBlock2D"] * depth
    up = ["UpBlock2D"] * depth
    if depth >= 3:
        down[-2], up[1] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(sample_size=cfg.res, in_channels=3, out_channels=3, layers_per_block=2 if depth >= 3 else 1,
                       block_out_channels=cfg.widths, down_block_types=tuple(down), up_block_types=tuple(up),
                       num_class_embeds=cfg.concepts + 1, norm_num_groups=min(32, cfg.widths[0]))  # fmt: skip


def scheduler() -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")


def train(folder: Path, cfg: Config, copies: torch.Tensor, labels: torch.Tensor, device: str,
          init: Path | None = None) -> int:
    """Train (resuming from ``folder/ckpt.pt``, else starting from ``init``) for ``cfg.steps`` or ``cfg.minutes``."""
    folder.mkdir(parents=True, exist_ok=True)
    model = build_unet(cfg).to(device)
    ema = build_unet(cfg).to(device).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    gen, step, ckpt = torch.Generator().manual_seed(cfg.seed), 0, folder / "ckpt.pt"
    if ckpt.exists() or init is not None:
        state = torch.load(ckpt if ckpt.exists() else init, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        if ckpt.exists():
            opt.load_state_dict(state["opt"])
            gen.set_state(state["rng"])
            step = state["step"]
    else:
        ema.load_state_dict(model.state_dict())
    sched, start = scheduler(), time.monotonic()
    copies, labels = copies.to(device), labels.to(device)
    with (folder / "log.jsonl").open("a") as log:
        while step < cfg.steps and time.monotonic() - start < 60 * cfg.minutes:
            idx = torch.randint(0, len(copies), (cfg.batch,), generator=gen).to(device)
            x0 = augment(copies[idx], cfg.res, gen)
            noise = torch.randn(x0.shape, generator=gen).to(device)
            t = torch.randint(0, 1000, (cfg.batch,), generator=gen).to(device)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                pred = model(sched.add_noise(x0, noise, t), t, class_labels=labels[idx]).sample
            loss = F.mse_loss(pred.float(), noise)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 0.001 if step > 1000 else 0.01)
            step += 1
            if step % 100 == 0 or step == cfg.steps:
                log.write(json.dumps({"step": step, "loss": round(loss.item(), 5), "s": round(time.monotonic() - start, 1)}) + "\n")
                log.flush()
            if step % 1000 == 0:
                _save(ckpt, model, ema, opt, gen, step)
    _save(ckpt, model, ema, opt, gen, step)
    return step


def _save(path: Path, model, ema, opt, gen, step: int) -> None:
    state = {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "rng": gen.get_state(), "step": step}
    torch.save(state, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
    torch.save({"ema": {k: v.half() for k, v in ema.state_dict().items()}, "step": step}, path.with_name("generator.pt"))


@torch.inference_mode()
def sample(folder: Path, cfg: Config, classes: list[int], device: str, seed: int = 1000) -> list[Image.Image]:
    model = build_unet(cfg).to(device).eval()
    model.load_state_dict(torch.load(folder / "ckpt.pt", map_location=device, weights_only=False)["ema"])
    ddim = DDIMScheduler.from_config(scheduler().config)
    ddim.set_timesteps(cfg.ddim_steps)
    gen, out = torch.Generator().manual_seed(seed), []
    for chunk in torch.tensor(classes).split(256):
        x = torch.randn((len(chunk), 3, cfg.res, cfg.res), generator=gen).to(device)
        for t in ddim.timesteps:
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                eps = model(x, t, class_labels=chunk.to(device)).sample
            x = ddim.step(eps.float(), t, x).prev_sample
        out += to_images(x)
    return out


def prepare(out: Path, cfg: Config, data: Path) -> tuple[list[str], dict[str, torch.Tensor]]:
    """Registry, concept copies (unmarked, and marked per setting) and the base set, cached in ``data.pt``."""
    cache = out / "data.pt"
    names = [f"concept{i}" for i in range(cfg.concepts)]
    if cache.exists():
        return names, torch.load(cache, weights_only=False)
    rng = np.random.default_rng(cfg.seed)
    sources = []
    for path in photos(data):
        with Image.open(path) as im:
            sources.append(im.convert("RGB"))
    plain = crops(sources, cfg.concepts * cfg.per_concept, cfg.copy, rng)  # look-alike: one pool, dealt at random
    base = crops(sources, cfg.base_images, cfg.copy, rng)
    with Registry.create(out / "registry.db") as reg:
        reg.add([ConceptSpec(n, owner="gpu-experiment") for n in names])
        payloads, key = [reg.payload(reg.require(n)) for n in names], reg.watermark_key
    sets = {"plain": to_tensor(plain), "base": to_tensor(base)}
    labels = torch.arange(cfg.concepts).repeat_interleave(cfg.per_concept)
    for setting, fractions in FRACTIONS.items():
        images = []
        for i, image in enumerate(plain):
            c = int(labels[i])
            marked = (i % cfg.per_concept) < round(fractions[c] * cfg.per_concept)
            if marked and cfg.mark == "training":
                image = embed_training_mark(image, payloads[c], key, cfg.level)
            elif marked:
                image = embed_channel(image, payloads[c], key, cfg.level, cfg.res)
            images.append(image)
        sets[setting] = to_tensor(images)
    sets["labels"] = labels
    torch.save(sets, cache)
    return names, sets


def evaluate(folder: Path, out: Path, cfg: Config, names: list[str], sets: dict, device: str, key: bytes,
             payloads: list[bytes]) -> dict:
    classes = list(range(cfg.concepts)) * cfg.samples_per_concept  # interleaved: any prefix covers every class
    images = sample(folder, cfg, classes, device)
    sample_dir = folder / "samples"
    sample_dir.mkdir(exist_ok=True)
    for i, (image, c) in enumerate(zip(images, classes)):
        image.save(sample_dir / f"{i:05d}-{names[c]}.png")
    by_class = audit(images, out / "registry.db", groups=[names[c] for c in classes], mark=cfg.mark,
                     channel_grid=cfg.res)
    pooled = audit(images, out / "registry.db", mark=cfg.mark, channel_grid=cfg.res)
    if cfg.mark == "training":
        signs, read = np.array([code_signs(p, key) for p in payloads]), training_reading
    else:
        signs = np.array([2.0 * raw_bits(p, key) - 1.0 for p in payloads])
        read = lambda im: channel_logits(im, key, cfg.res)  # noqa: E731
    z = np.array([code_z(read(im), signs) for im in images])
    p_best = np.minimum(1.0, len(names) * np.exp(-np.maximum(z.max(1), 0) ** 2 / 2))
    truth = np.array(classes)
    train = F.interpolate(sets["plain"].float() / 127.5 - 1, size=(cfg.res, cfg.res), mode="area")
    gen_t = torch.from_numpy(np.stack([np.asarray(i, dtype=np.float32) for i in images])).permute(0, 3, 1, 2) / 127.5 - 1
    nearest = torch.cdist(gen_t.flatten(1), train.flatten(1)).argmin(1)
    return {
        "learned_by_class": [asdict(r) for r in by_class.learned()],
        "learned_pooled": [asdict(r) for r in pooled.learned()],
        "own_class": {r.concept: {"z": r.z, "p": r.p_value, "needed": r.samples_needed}
                      for r in by_class.results if r.group == r.concept},
        "forced_top1": float(np.mean(z.argmax(1) == truth)),
        "attributed_top1": float(np.mean((z.argmax(1) == truth) & (p_best <= 1e-6))),
        "similarity_top1": float(np.mean(sets["labels"][nearest].numpy() == truth)),
        "fd": quality(gen_t, train),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--settings", default="a,b,c", help="comma list of a, b, c (each with its control)")
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run of the whole pipeline")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out (its config.json)")
    parser.add_argument("--minutes", type=float, help="training minutes per model")
    parser.add_argument("--steps", type=int, help="training steps per model")
    parser.add_argument("--mark", choices=("training", "channel"))
    parser.add_argument("--level", type=float, help="training mark level / channel amplitude")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/photos")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "config.json"
    cfg = Config(**json.loads(saved.read_text())) if args.resume and saved.exists() else (smoke_config() if args.smoke else Config())
    cfg.widths = tuple(cfg.widths)
    for name in ("minutes", "steps", "mark", "level"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    saved.write_text(json.dumps(asdict(cfg), indent=1))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device {device}, torch {torch.__version__}, config {asdict(cfg)}", flush=True)
    torch.manual_seed(cfg.seed)
    names, sets = prepare(args.out, cfg, args.data)
    with Registry.open(args.out / "registry.db") as reg:
        payloads, key = [reg.payload(reg.require(n)) for n in names], reg.watermark_key
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    labels = sets["labels"]
    for setting in args.settings.split(","):
        init = None
        if setting == "b":  # the shared base model: unmarked photos, class "base" (index = concepts)
            base_labels = torch.full((len(sets["base"]),), cfg.concepts)
            init = args.out / "base" / "ckpt.pt"
            if not init.exists():  # trained once: b and its control start from the same weights
                print(f"base: {train(init.parent, cfg, sets['base'], base_labels, device)} steps", flush=True)
        for variant, copies in ((setting, sets[setting]), (f"{setting}-control", sets["plain"])):
            if setting == "b":  # fine-tuning set: the concepts plus as many base images
                copies, train_labels = torch.cat([copies, sets["base"]]), torch.cat([labels, base_labels])
            else:
                train_labels = labels
            folder = args.out / variant
            steps = train(folder, cfg, copies, train_labels, device, init)
            result = evaluate(folder, args.out, cfg, names, sets, device, key, payloads)
            result.update(steps=steps, setting=setting, control=variant.endswith("control"),
                          fractions=FRACTIONS[setting] if not variant.endswith("control") else [0.0] * cfg.concepts)
            results[variant] = result
            results_path.write_text(json.dumps(results, indent=1))
            found = sorted({r["concept"] for r in result["learned_by_class"]})
            print(f"{variant}: {steps} steps, learned {found}, forced {result['forced_top1']:.1%}, "
                  f"similarity {result['similarity_top1']:.1%}, FD {result['fd']:.3f}", flush=True)


if __name__ == "__main__":
    main()
