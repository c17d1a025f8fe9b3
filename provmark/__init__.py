"""provmark: provenance for images in the age of generative AI.

The front door (each name is imported on first use, so ``import provmark`` stays light)::

    import provmark

    signer = provmark.Signer("keys")                         # keys and watermark model, loaded once
    data = signer.sign(image, prompt="a red fox", model="MyGen 2.1")   # signed file bytes
    report = provmark.verify(data, keys="keys")              # report.ai_generated, .integrity, .verified
    marked = provmark.embed(image, "0123456789abcdef", "keys")
    result = provmark.decode(marked, "keys")                 # result.detected, .payload, .p_value
    copy = provmark.mark_image(image, "catalog.db", "red-fox")
    hits = provmark.attribute(copy, "catalog.db").concepts   # [ConceptHit(name='red-fox', ...)]
    learned = provmark.audit(samples, "catalog.db").learned()  # concepts a model learned, from its samples

Images are PIL images, numpy arrays, file bytes or paths. Subpackages: ``watermark`` (the
torch-free coding core; the neural mark in ``watermark.marking``), ``models`` (torch networks,
training, shipped weights), ``c2pa`` (wraps c2pa-python), ``metadata`` (XMP/EXIF disclosure),
``signing``, ``concepts`` (registry, catalog marking), ``detect`` (verification, attribution),
``io`` (image files), ``cli`` (the ``provmark`` command); ``provmark.api`` lists the whole public
API, and what is not in it is internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: What ``provmark`` exports: what a pipeline needs. They and the rest of the public API (files,
#: catalogs, training runs, Ray batches, the web service) are listed in :mod:`provmark.api`.
_FRONT_DOOR = (
    "sign",
    "verify",
    "embed",
    "decode",
    "mark_image",
    "attribute",
    "audit",
    "Signer",
    "Verifier",
    "Keys",
    "load_keys",
    "init_keys",
    "load_watermark_key",
    "Registry",
    "ConceptSpec",
    "Disclosure",
    "SigningIdentity",
    "load_identity",
    "callback_identity",
    "SignedImage",
    "VerificationReport",
    "DecodeResult",
    "AttributionReport",
    "ConceptHit",
    "AuditReport",
    "ConceptAudit",
    "ProvmarkError",
)

__all__ = ["__version__", *_FRONT_DOOR]

if TYPE_CHECKING:
    from provmark.api import (
        AttributionReport,
        AuditReport,
        ConceptAudit,
        ConceptHit,
        ConceptSpec,
        DecodeResult,
        Disclosure,
        Keys,
        ProvmarkError,
        Registry,
        SignedImage,
        Signer,
        SigningIdentity,
        VerificationReport,
        Verifier,
        attribute,
        audit,
        callback_identity,
        decode,
        embed,
        init_keys,
        load_identity,
        load_keys,
        load_watermark_key,
        mark_image,
        sign,
        verify,
    )


def __getattr__(name: str) -> Any:
    if name not in _FRONT_DOOR:
        raise AttributeError(f"module 'provmark' has no attribute {name!r}")
    value = getattr(importlib.import_module("provmark.api"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
