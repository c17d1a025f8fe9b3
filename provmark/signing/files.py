"""Signing files: output folder checks, watermark key and store from files, one file at a time."""

from __future__ import annotations

import os
from pathlib import Path

from provmark.c2pa.identity import SigningIdentity
from provmark.c2pa.store import ManifestStore
from provmark.errors import InputImageError, KeyMaterialError, OutputError
from provmark.io.atomic import write_bytes_atomic
from provmark.io.images import load_image, read_image_file
from provmark.keys import KeyPaths
from provmark.signing.image import sign_loaded
from provmark.signing.options import SignOptions, Watermarking
from provmark.watermark.keys import read_watermark_key


def watermarking_from_files(
    keys_dir: str | os.PathLike[str] | None,
    key_file: str | os.PathLike[str] | None = None,
    store_dir: str | os.PathLike[str] | None = None,
    strength: float = 1.0,
) -> Watermarking:
    """Watermarking with the key from ``key_file`` (default ``KEYS/watermark.key``) and the
    store in ``store_dir`` (default ``KEYS/manifests``; none without a keys folder)."""
    keys = KeyPaths(Path(keys_dir)) if keys_dir is not None else None
    key_path = Path(key_file) if key_file else keys.watermark_key if keys else None
    if key_path is None:
        raise KeyMaterialError("watermarking needs a watermark key file")
    store = ManifestStore(store_dir) if store_dir else ManifestStore.beside_keys(keys.dir) if keys else None
    return Watermarking(key=read_watermark_key(key_path), store=store, strength=strength)


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create the output folder if needed and check it is writable (fail once, not per file)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {out} is not writable")
    return out


def sign_file(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    identity: SigningIdentity,
    options: SignOptions,
    watermark: Watermarking | None = None,
) -> list[Path]:
    """Sign one file into ``out_dir`` under the same name; returns the files written.

    With a sidecar, ``NAME.c2pa`` is written beside the untouched copy; with a watermark
    store, the manifest goes into the store. Nothing is left behind on failure.
    """
    source = Path(path)
    loaded = load_image(source)
    target = Path(out_dir) / source.name
    if target.resolve() == source.resolve():
        raise OutputError(f"{source}: output would overwrite the input (choose another --out folder)")
    raw = read_image_file(source)
    signed = sign_loaded(loaded, raw, identity, options, title=source.name, watermark=watermark)
    write_bytes_atomic(target, signed.data)
    written = [target]
    try:
        if signed.sidecar:
            written.append(target.with_suffix(".c2pa"))
            write_bytes_atomic(written[-1], signed.manifest_store)
        if watermark is not None and watermark.store is not None and signed.watermark_payload:
            watermark.store.put(signed.watermark_payload, signed.manifest_store)
    except OutputError:
        for path_written in written:
            path_written.unlink(missing_ok=True)
        raise
    return written
