"""Outputs of a run: results.json, a RESULTS table (markdown), a sample grid and confusion-matrix PNGs."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from benchmarks.promark.pipeline import to_images


def write_json(results: dict, path: Path) -> None:
    """``results`` as indented JSON."""
    path.write_text(json.dumps(results, indent=2) + "\n")


def table(results: dict) -> str:
    """One markdown row per variant: attribution of both marks, similarity baseline, quality."""
    head = ("| variant | steps | samples | product mark top-1 / attributed | product bits | concept channel top-1 / "
            "attributed / forced choice | channel bits | similarity top-1 | quality FD (lower better) | its training data FD "
            "| patch FD (pixels) | its training data patch FD |")
    rows = [head, "|" + "---|" * 12]
    for r in results["variants"].values():
        pm, ch = r["product_mark"], r["concept_channel"]
        rows.append(
            f"| {r['variant']} | {r['train_steps']} | {r['samples']} | {pm['accuracy']:.1%} / {pm['attributed']:.1%} "
            f"| {r['product_bit_accuracy']:.1%} | {ch['accuracy']:.1%} / {ch['attributed']:.1%} / {r['concept_channel_forced_choice']:.1%} "
            f"| {r['channel_bit_accuracy']:.1%} | {r['similarity_baseline']['accuracy']:.1%} | {r['quality_fd']:.3f} "
            f"| {r['training_data_fd']:.3f} | {r.get('quality_patch_fd', float('nan')):.4f} "
            f"| {r.get('training_data_patch_fd', float('nan')):.4f} |"
        )
    return "\n".join(rows)


def ceiling_table(ceiling: list[dict]) -> str:
    """Markdown rows: how many of each variant's own training images (at training resolution) each mark attributes."""
    rows = ["| training data of | images | product mark top-1 / attributed | concept channel top-1 / attributed |",
            "|---|---|---|---|"]
    for c in ceiling:
        rows.append(f"| {c['variant']} | {c['images']} | {c['product_mark_accuracy']:.1%} / {c['product_mark_attributed']:.1%} "
                    f"| {c['concept_channel_accuracy']:.1%} / {c['concept_channel_attributed']:.1%} |")
    return "\n".join(rows)


def sample_grid(samples: dict[str, Path], concepts: int, per_concept: int, path: Path, columns: int = 8) -> None:
    """A PNG grid: for each variant, one row per concept of its first ``columns`` samples."""
    tiles: list[list[Image.Image]] = []
    for file in samples.values():
        saved = torch.load(file)
        images = to_images(saved["samples"])
        for c in range(concepts):
            tiles.append(images[c * per_concept : c * per_concept + min(columns, per_concept)])
    side = max(64, tiles[0][0].width) if tiles and tiles[0] else 64
    grid = Image.new("RGB", (columns * (side + 2), len(tiles) * (side + 2)), "white")
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            grid.paste(tile.resize((side, side), Image.Resampling.NEAREST), (c * (side + 2), r * (side + 2)))
    grid.save(path)


def confusion_png(matrix: list[list[int]], names: list[str], path: Path, cell: int = 28) -> None:
    """A heat map of a confusion matrix (rows true, columns predicted, last column "none") with counts."""
    rows, cols = len(matrix), len(matrix[0])
    margin = 60
    image = Image.new("RGB", (margin + cols * cell, margin + rows * cell), "white")
    draw = ImageDraw.Draw(image)
    top = max(1, max(max(r) for r in matrix))
    for i, row in enumerate(matrix):
        draw.text((2, margin + i * cell + 8), names[i][:8], fill="black")
        for j, count in enumerate(row):
            shade = 255 - int(220 * count / top)
            box = (margin + j * cell, margin + i * cell, margin + (j + 1) * cell - 1, margin + (i + 1) * cell - 1)
            draw.rectangle(box, fill=(shade, shade, 255))
            draw.text((box[0] + 4, box[1] + 8), str(count), fill="black" if shade > 120 else "white")
    for j in range(cols):
        label = names[j][:3] if j < len(names) else "none"
        draw.text((margin + j * cell + 2, margin - 14), label, fill="black")
    draw.text((2, 2), "rows: true concept, columns: attributed", fill="black")
    image.save(path)
