"""The copy attack on a watermark: a signed image's residual (signed minus original) added onto another photo."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def forged_copy(signed: bytes | Path, original: Path, host: Path) -> bytes:
    """PNG bytes of ``host`` (resized to the signed size) carrying ``signed``'s watermark residual."""
    source = io.BytesIO(signed) if isinstance(signed, bytes) else signed
    marked = np.asarray(Image.open(source).convert("RGB"), dtype=np.float32)
    clean = np.asarray(Image.open(original).convert("RGB"), dtype=np.float32)
    other = Image.open(host).convert("RGB").resize((marked.shape[1], marked.shape[0]), Image.Resampling.LANCZOS)
    forged = np.clip(np.asarray(other, dtype=np.float32) + (marked - clean), 0, 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(forged).save(buf, format="PNG")
    return buf.getvalue()
