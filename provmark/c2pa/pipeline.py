"""Sign one image in memory: caption, disclosure metadata, C2PA manifest -> bytes.

This is the Python API for generation pipelines::

    from provmark.c2pa import sign_image, identity_from_keys_dir, SignOptions, Disclosure
    signed = sign_image(pil_image, identity_from_keys_dir("keys"),
                        SignOptions(Disclosure(generator="MyGen 2.1")))
    open("out.png", "wb").write(signed.data)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from provmark.c2pa.caption import draw_caption
from provmark.c2pa.identity import SigningIdentity
from provmark.c2pa.manifest import build_manifest
from provmark.c2pa.metadata_exif import build_exif
from provmark.c2pa.metadata_xmp import build_xmp, png_with_xmp
from provmark.c2pa.options import SignOptions
from provmark.c2pa.reader import has_manifest
from provmark.c2pa.signer import mime_for, sign_bytes
from provmark.errors import InputImageError, OutputError
from provmark.io.atomic import write_bytes_atomic
from provmark.io.images import LoadedImage, encode_like, load_image

#: Formats whose files carry EXIF and XMP through provmark's encoder.
METADATA_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF")


@dataclass(frozen=True)
class SignedImage:
    """A signed image: its bytes, format, and the C2PA manifest store that was embedded (or is the sidecar)."""

    data: bytes
    format: str
    mime: str
    manifest_store: bytes
    sidecar: bool = False
    had_parent: bool = False


def sign_image(
    source: Image.Image | bytes,
    identity: SigningIdentity,
    options: SignOptions | None = None,
    *,
    title: str = "image",
    format: str | None = None,
) -> SignedImage:
    """Sign a PIL image or encoded image bytes and return the signed file's bytes.

    A PIL image is written in ``format`` (default: its own format, else PNG). Encoded bytes
    keep their format; if they already carry a C2PA manifest it becomes the parent ingredient.
    """
    options = options or SignOptions()
    raw = source if isinstance(source, bytes) else None
    loaded = load_image(source)
    if format:
        loaded.format = format.upper().replace("JPG", "JPEG")
    return sign_loaded(loaded, raw, identity, options, title=title)


def sign_loaded(
    loaded: LoadedImage, raw: bytes | None, identity: SigningIdentity, options: SignOptions, *, title: str
) -> SignedImage:
    """Sign an already decoded image; ``raw`` is its original file content when there is one."""
    mime = mime_for(loaded.format, loaded.name)
    parent = raw if raw is not None and has_manifest(raw, mime) else None
    manifest = build_manifest(options.disclosure, title, has_parent=parent is not None)
    if options.sidecar:
        data = raw if raw is not None else encode_like(loaded.image, loaded)
    else:
        image = draw_caption(loaded.image, options.label) if options.label else loaded.image
        data = encode_with_disclosure(image, loaded, options, title)
    signed = sign_bytes(
        data,
        mime,
        manifest,
        identity,
        parent=parent,
        parent_title=title,
        thumbnail=options.thumbnail,
        sidecar=options.sidecar,
        tsa_url=options.tsa_url,
    )
    return SignedImage(
        data=signed.asset,
        format=loaded.format,
        mime=mime,
        manifest_store=signed.manifest_store,
        sidecar=options.sidecar,
        had_parent=parent is not None,
    )


def encode_with_disclosure(image: Image.Image, loaded: LoadedImage, options: SignOptions, title: str) -> bytes:
    """Encode ``image`` like ``loaded`` with the disclosure XMP and EXIF in place of the old ones."""
    if loaded.format not in METADATA_FORMATS:
        return encode_like(image, loaded)
    xmp = build_xmp(options.disclosure, title=options.disclosure.title or title)
    exif = build_exif(loaded.exif, options.disclosure)
    target = dataclasses.replace(loaded, xmp=None if loaded.format == "PNG" else xmp)
    data = encode_like(image, target, extra_exif=exif)
    return png_with_xmp(data, xmp) if loaded.format == "PNG" else data



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
    path: str | os.PathLike[str], out_dir: str | os.PathLike[str], identity: SigningIdentity, options: SignOptions
) -> list[Path]:
    """Sign one file into ``out_dir`` under the same name; returns the files written.

    With a sidecar, ``NAME.c2pa`` is written beside the untouched copy. Nothing is left
    behind on failure.
    """
    source = Path(path)
    loaded = load_image(source)
    target = Path(out_dir) / source.name
    if target.resolve() == source.resolve():
        raise OutputError(f"{source}: output would overwrite the input (choose another --out folder)")
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise InputImageError(f"{source}: cannot read: {exc.strerror or exc}") from None
    signed = sign_loaded(loaded, raw, identity, options, title=source.name)
    write_bytes_atomic(target, signed.data)
    if not signed.sidecar:
        return [target]
    sidecar = target.with_suffix(".c2pa")
    try:
        write_bytes_atomic(sidecar, signed.manifest_store)
    except OutputError:
        target.unlink(missing_ok=True)
        raise
    return [target, sidecar]
