"""Signing files, one at a time: output beside the input's name, sidecar, manifest store."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from provmark.c2pa.identity import SigningIdentity
from provmark.errors import OutputError
from provmark.io.atomic import write_bytes_atomic
from provmark.io.images import load_image, read_image_file
from provmark.signing.image import sign_loaded
from provmark.signing.options import SignOptions, Watermarking


def sign_file(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    identity: SigningIdentity,
    options: SignOptions,
    watermark: Watermarking | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Sign one file into ``out_dir`` under the same name; returns the files written.

    With a sidecar, ``NAME.c2pa`` is written beside the untouched copy; with a watermark
    store, the manifest goes into the store. Nothing is left behind on failure. ``warn`` is
    told when the file's existing manifest (the new one's parent) did not validate.
    """
    source = Path(path)
    loaded = load_image(source)
    target = Path(out_dir) / source.name
    if target.resolve() == source.resolve():
        raise OutputError(f"{source}: output would overwrite the input (choose another --out folder)")
    raw = read_image_file(source)
    signed = sign_loaded(loaded, raw, identity, options, title=source.name, watermark=watermark)
    if signed.parent_problem and warn is not None:
        warn(f"{source}: its existing manifest, now the parent ingredient, did not validate: {signed.parent_problem}")
    write_bytes_atomic(target, signed.data)
    written = [target]
    try:
        if signed.sidecar:
            written.append(target.with_suffix(".c2pa"))
            write_bytes_atomic(written[-1], signed.manifest_store)
        if watermark is not None and watermark.store is not None and signed.watermark_payload:
            watermark.store.put(signed.watermark_payload, signed.manifest_store, signed.fingerprint)
    except OutputError:
        for path_written in written:
            path_written.unlink(missing_ok=True)
        raise
    return written
