"""Sign every output of an image-generation pipeline with one ``provmark.Signer``.

The Signer loads the signing key, the watermark key and the watermark model once; each
``signer.sign(image, prompt=..., model=...)`` returns the signed file's bytes: invisible
watermark, IPTC/XMP and EXIF disclosure, and a C2PA manifest (``c2pa.created``,
``trainedAlgorithmicMedia``, the prompt), kept in the store beside the keys so that stripped
copies can be traced back.

The pipeline is a diffusers ``DDIMPipeline`` built here from a small ``UNet2DModel`` (no
download: random weights unless ``--unet`` points at a folder saved with ``save_pretrained``),
so its outputs are textures, not pictures; any diffusers pipeline's PIL outputs are signed the
same way. Without diffusers (``pip install -e ".[diffusers]"``) a numpy batch stands in.

    python examples/sign_pipeline.py --keys keys --out signed [--count 4] [--unet DIR] [--numpy]
    provmark verify signed/*.png --keys keys
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import provmark

#: The watermark needs at least 128 px a side; the small UNet's 64 px outputs are upscaled to this.
SIDE = 256


def diffusers_images(count: int, unet_dir: Path | None, seed: int) -> tuple[list[Image.Image], str]:
    """``count`` outputs of a locally built diffusers DDIM pipeline, and its name for the manifest."""
    import torch
    from diffusers import DDIMPipeline, DDIMScheduler, UNet2DModel

    if unet_dir is not None:
        unet = UNet2DModel.from_pretrained(unet_dir, local_files_only=True)
    else:
        torch.manual_seed(seed)
        unet = UNet2DModel(
            sample_size=64, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(32, 64),
            down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=8,
        )  # fmt: skip
    pipe = DDIMPipeline(unet=unet, scheduler=DDIMScheduler(num_train_timesteps=1000))
    pipe.set_progress_bar_config(disable=True)
    out = pipe(batch_size=count, num_inference_steps=10, generator=torch.Generator().manual_seed(seed), output_type="pil")
    return [im.resize((SIDE, SIDE), Image.Resampling.LANCZOS) for im in out.images], "DDIM-local 0.1"


def numpy_images(count: int, seed: int) -> tuple[list[Image.Image], str]:
    """``count`` smooth random RGB fields (what a pipeline's float output looks like before saving)."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        coarse = rng.random((8, 8, 3))
        pixels = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((SIDE, SIDE), Image.Resampling.BICUBIC))
        images.append(Image.fromarray(pixels))
    return images, "numpy-batch 0.1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=Path, required=True, help="keys folder (created if missing)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--unet", type=Path, help="a UNet2DModel folder (save_pretrained) to use instead of random weights")
    parser.add_argument("--numpy", action="store_true", help="sign a numpy batch instead of diffusers outputs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.keys.exists():
        provmark.init_keys(args.keys, org="Example Generator")
    prompts = [f"sample {i} of an unconditional DDIM" for i in range(args.count)]
    try:
        if args.numpy:
            raise ImportError("--numpy")
        images, model = diffusers_images(args.count, args.unet, args.seed)
    except ImportError:
        images, model = numpy_images(args.count, args.seed)

    signer = provmark.Signer(args.keys)  # keys, watermark key and model: loaded once
    args.out.mkdir(parents=True, exist_ok=True)
    for i, (image, prompt) in enumerate(zip(images, prompts)):
        data = signer.sign(image, prompt=prompt, model=model)  # PNG bytes, signed
        (args.out / f"output-{i}.png").write_bytes(data)
        report = provmark.verify(data, keys=args.keys)
        print(f"output-{i}.png  {model}  verified={report.verified}  ai_generated={report.ai_label}")


if __name__ == "__main__":
    main()
