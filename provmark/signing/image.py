"""Sign one image in memory: caption, disclosure metadata, C2PA manifest -> bytes.

The watermark, when asked for, is embedded first, so the C2PA hard binding covers it.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass

from PIL import Image

from provmark.c2pa.fingerprint import Fingerprint
from provmark.c2pa.identity import SigningIdentity
from provmark.c2pa.manifest import SoftBinding, build_manifest
from provmark.c2pa.reader import UNPARSEABLE, ManifestSummary, read_manifest
from provmark.c2pa.signer import mime_for, sign_bytes
from provmark.io.codecs import METADATA_FORMATS
from provmark.io.encode import check_single_frame, encode_like
from provmark.io.images import ImageInput, LoadedImage, load_image, read_image_file
from provmark.metadata.exif import build_exif, fix_undefined_types
from provmark.metadata.jpeg import replace_jpeg_metadata
from provmark.metadata.xmp import build_xmp, png_with_xmp
from provmark.signing.caption import draw_caption
from provmark.signing.options import SignOptions, Watermarking
from provmark.watermark.codec import PAYLOAD_BYTES
from provmark.watermark.marking import embed_watermark


@dataclass(frozen=True)
class SignedImage:
    """A signed image: its bytes, format, and the C2PA manifest store that was embedded (or is the sidecar)."""

    data: bytes
    format: str
    mime: str
    manifest_store: bytes
    sidecar: bool = False
    had_parent: bool = False
    watermark_payload: bytes | None = None
    #: Why the parent's manifest did not validate (None: no parent, or a valid one); also in the manifest.
    parent_problem: str | None = None
    #: Fingerprint of the signed pixels, kept with the manifest in the store (watermarked images only).
    fingerprint: Fingerprint | None = None


def sign_image(
    source: ImageInput,
    identity: SigningIdentity,
    options: SignOptions | None = None,
    *,
    title: str = "image",
    format: str | None = None,
    watermark: Watermarking | None = None,
) -> SignedImage:
    """Sign pixels (PIL image, numpy array), encoded image bytes or an image file; return the signed file.

    Pixels are written in ``format`` (default: the image's own format, else PNG). Bytes and
    files keep their format; if they already carry a C2PA manifest it becomes the parent ingredient.
    With ``watermark`` the pixels get an invisible watermark first (the hard binding covers
    it), recorded as a ``c2pa.soft-binding``; the manifest is kept in ``watermark.store``.
    """
    options = options or SignOptions()
    loaded = load_image(source)
    raw = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else None
    if loaded.path is not None:
        raw = read_image_file(loaded.path)
    if format:
        loaded.format = format.upper().replace("JPG", "JPEG")
    signed = sign_loaded(loaded, raw, identity, options, title=title, watermark=watermark)
    if watermark is not None and watermark.store is not None and signed.watermark_payload:
        watermark.store.put(signed.watermark_payload, signed.manifest_store, signed.fingerprint)
    return signed


def sign_loaded(
    loaded: LoadedImage,
    raw: bytes | None,
    identity: SigningIdentity,
    options: SignOptions,
    *,
    title: str,
    watermark: Watermarking | None = None,
) -> SignedImage:
    """Sign an already decoded image; ``raw`` is its original file content when there is one.

    The manifest is not put into the watermark store here: callers do that once the signed
    image has been delivered (see :func:`sign_image` and :func:`provmark.signing.files.sign_file`). A sidecar leaves
    the image untouched, so it is never watermarked.
    """
    mime = mime_for(loaded.format, loaded.name)
    previous = read_manifest(raw, mime) if raw is not None else None
    # Only a manifest the Reader could validate can become the parent ingredient.
    parent = raw if previous is not None and previous.validated else None
    problem = parent_problem(previous)
    disclosure = options.disclosure.resolved(edit=parent is not None)
    options = dataclasses.replace(options, disclosure=disclosure)
    binding = fingerprint = None
    if options.sidecar or (loaded.frames > 1 and raw is not None and not options.label and watermark is None):
        # Untouched bytes: a sidecar, or an animation / multi-page file signed whole (not flattened).
        data = raw if raw is not None else encode_like(loaded.image, loaded)
    else:
        check_single_frame(loaded)
        image = draw_caption(loaded.image, options.label) if options.label else loaded.image
        if watermark is not None:
            binding = SoftBinding(payload=new_payload(watermark))
            image = embed_watermark(image, binding.payload, watermark.key, strength=watermark.strength)
            fingerprint = Fingerprint.of(image)
        data = encode_with_disclosure(image, loaded, options, title, raw=raw)
    manifest = build_manifest(
        disclosure, title, has_parent=parent is not None, soft_binding=binding, parent_note=problem
    )
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
        watermark_payload=binding.payload if binding else None,
        parent_problem=problem,
        fingerprint=fingerprint,
    )


def parent_problem(previous: ManifestSummary | None) -> str | None:
    """Why an existing manifest did not validate, in a few words (None when it did, or there is none).

    Trust alone does not count: the parent is checked without trust anchors.
    """
    if previous is None or previous.problem == UNPARSEABLE:
        return None
    if not previous.validated:
        return f"{previous.problem_detail}; signed without it as the parent ingredient"
    if previous.state == "Invalid":
        return f"Invalid ({', '.join(previous.failures) or 'no reason given'})"
    return None


def new_payload(watermark: Watermarking) -> bytes:
    """A fresh random 8-byte watermark payload (unused in the store, if there is one)."""
    return watermark.store.new_payload(PAYLOAD_BYTES) if watermark.store else secrets.token_bytes(PAYLOAD_BYTES)


def encode_with_disclosure(
    image: Image.Image, loaded: LoadedImage, options: SignOptions, title: str, raw: bytes | None = None
) -> bytes:
    """Encode ``image`` like ``loaded`` with the disclosure XMP and EXIF in place of the old ones.

    A JPEG whose pixels did not change (``image`` is ``loaded.image`` and its file content
    ``raw`` is known) keeps its compressed data: only the metadata segments are replaced.
    """
    if loaded.format not in METADATA_FORMATS:
        return encode_like(image, loaded)
    xmp = build_xmp(options.disclosure, title=options.disclosure.title or title)
    tiff = loaded.format == "TIFF"
    dpi = loaded.image.info.get("dpi")
    exif = build_exif(
        loaded.exif, options.disclosure, xmp=xmp if tiff else None, size=image.size,
        jpeg=loaded.format == "JPEG", tiff=tiff, png=loaded.format == "PNG", dpi=dpi if isinstance(dpi, tuple) else None,
    )  # fmt: skip
    if loaded.format == "JPEG" and raw is not None and image is loaded.image:
        try:
            return replace_jpeg_metadata(raw, exif, xmp)
        except ValueError:
            pass  # unusual stream structure: fall back to re-encoding
    target = dataclasses.replace(loaded, xmp=None if loaded.format == "PNG" else xmp)
    data = encode_like(image, target, extra_exif=exif)
    if tiff:  # Pillow's TIFF writer copies the EXIF tags with its own guess of their types
        data = fix_undefined_types(data)
    return png_with_xmp(data, xmp) if loaded.format == "PNG" else data
