"""The benchmark attack suite runs on real images and does what its names say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.attacks import ATTACKS, attack_by_name


def test_every_attack_changes_the_image_as_named(photo_paths: list[Path]) -> None:
    with Image.open(photo_paths[0]) as im:
        photo = im.convert("RGB").resize((im.width * 3 // 2, im.height * 3 // 2))  # long side above 512
    w, h = photo.size
    rng = np.random.default_rng(0)
    sizes = {}
    for attack in ATTACKS:
        out = attack.apply(photo, rng)
        assert out.mode == "RGB", attack.name
        sizes[attack.name] = out.size
        changed = out.size != photo.size or np.any(np.asarray(out) != np.asarray(photo))
        assert changed == (attack.name != "none"), attack.name
    assert sizes["resize0.5"] == (round(w / 2), round(h / 2))
    assert max(sizes["resize512"]) == 512
    assert abs(sizes["crop50"][0] * sizes["crop50"][1] / (w * h) - 0.5) < 0.01
    assert abs(sizes["crop80"][0] * sizes["crop80"][1] / (w * h) - 0.8) < 0.01
    assert abs(sizes["crop70-topleft"][0] * sizes["crop70-topleft"][1] / (w * h) - 0.7) < 0.01
    assert sizes["band55"][0] == w and abs(sizes["band55"][1] / h - 0.55) < 0.01
    assert sizes["border10"] == (w + 2 * round(0.1 * w), h + 2 * round(0.1 * h))
    assert sizes["mirror"] == sizes["rotate15"] == (w, h)
    assert min(sizes["downscale0.25"]) == 128 or sizes["downscale0.25"] == (round(w / 4), round(h / 4))
    mirrored = np.asarray(attack_by_name("mirror").apply(photo, rng))
    assert np.array_equal(mirrored[:, ::-1], np.asarray(photo))
    assert attack_by_name("jpeg50").name == "jpeg50"
