"""Sign encoded image bytes with c2pa-python: embedded manifest or sidecar manifest store."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import c2pa

from provmark.c2pa.identity import SigningIdentity
from provmark.c2pa.manifest import PARENT_LABEL
from provmark.errors import SigningError
from provmark.io.codecs import MIME_TYPES

#: MIME types of the image formats provmark reads that c2pa-python reads and embeds manifests in.
C2PA_MIME_TYPES = {fmt: MIME_TYPES[fmt] for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "GIF", "AVIF", "HEIF", "JXL")}


@dataclass(frozen=True)
class SignedBytes:
    """Result of signing: the asset bytes (unchanged for a sidecar) and the manifest store bytes."""

    asset: bytes
    manifest_store: bytes


def mime_for(fmt: str, name: str = "<image>") -> str:
    """MIME type to sign ``fmt`` as, or a :class:`SigningError` if C2PA cannot embed into it."""
    try:
        return C2PA_MIME_TYPES[fmt]
    except KeyError:
        raise SigningError(
            f"{name}: C2PA manifests cannot be embedded in {fmt} files (use one of {', '.join(C2PA_MIME_TYPES)})"
        ) from None


def make_signer(identity: SigningIdentity, tsa_url: str | None = None) -> c2pa.Signer:
    """A c2pa-python signer for ``identity`` (local key or callback)."""
    tsa = tsa_url.encode("utf-8") if tsa_url else None
    try:
        if identity.sign is not None:
            alg = c2pa.C2paSigningAlg[identity.alg.upper()]
            return c2pa.Signer.from_callback(identity.sign, alg, identity.chain_pem.decode("ascii"), tsa_url)
        info = c2pa.C2paSignerInfo(identity.alg.encode("ascii"), identity.chain_pem, identity.key_pem, tsa)
        return c2pa.Signer.from_info(info)
    except c2pa.C2paError as exc:
        raise SigningError(f"cannot create a signer from the certificate and key: {_first_line(exc)}") from None


def builder_context(thumbnail: bool) -> c2pa.Context:
    """Context for building: thumbnail on or off, no network fetches beyond an explicit TSA."""
    return c2pa.Context.from_dict(
        {
            "builder": {"thumbnail": {"enabled": thumbnail}},
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_after_sign": False},
        }
    )


def sign_bytes(
    data: bytes,
    mime: str,
    manifest: dict[str, Any],
    identity: SigningIdentity,
    *,
    parent: bytes | None = None,
    parent_title: str = "parent",
    thumbnail: bool = False,
    sidecar: bool = False,
    tsa_url: str | None = None,
) -> SignedBytes:
    """Sign ``data`` (an encoded image of type ``mime``) with ``manifest``.

    ``parent`` is the encoded image that already carried a manifest; it becomes the parent
    ingredient. With ``sidecar`` the manifest store is returned and ``data`` is left untouched.
    """
    signer = make_signer(identity, tsa_url)
    context = builder_context(thumbnail)
    try:
        builder = c2pa.Builder(manifest, context=context)
        if parent is not None:
            ingredient = {"title": parent_title, "relationship": "parentOf", "label": PARENT_LABEL}
            builder.add_ingredient(ingredient, mime, io.BytesIO(parent))
        if sidecar:
            builder.set_no_embed()
        out = io.BytesIO()
        store = builder.sign(signer, mime, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise SigningError(_signing_message(exc, tsa_url)) from None
    finally:
        signer.close()
        context.close()
    return SignedBytes(asset=data if sidecar else out.getvalue(), manifest_store=store)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def _signing_message(exc: Exception, tsa_url: str | None) -> str:
    text = _first_line(exc)
    if tsa_url and ("http" in text.lower() or "timestamp" in text.lower() or "time stamp" in text.lower()):
        return f"time-stamp authority {tsa_url} failed: {text}"
    return f"C2PA signing failed: {text}"
