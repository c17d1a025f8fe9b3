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
``io`` (image files), ``cli`` (the ``provmark`` command).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "sign": "provmark.signing.signer",
    "verify": "provmark.detect.verify",
    "embed": "provmark.api",
    "decode": "provmark.api",
    "mark_image": "provmark.api",
    "attribute": "provmark.api",
    "audit": "provmark.detect.audit",
    "Signer": "provmark.signing.signer",
    "Verifier": "provmark.detect.verify",
    "Keys": "provmark.keys",
    "load_keys": "provmark.keys",
    "init_keys": "provmark.keys",
    "load_watermark_key": "provmark.keys",
    "Registry": "provmark.concepts.registry",
    "ConceptSpec": "provmark.concepts.registry",
    "Disclosure": "provmark.metadata.disclosure",
    "SigningIdentity": "provmark.c2pa.identity",
    "load_identity": "provmark.c2pa.identity",
    "callback_identity": "provmark.c2pa.identity",
    "SignedImage": "provmark.signing.image",
    "VerificationReport": "provmark.detect.report",
    "DecodeResult": "provmark.watermark.decision",
    "AttributionReport": "provmark.detect.attribution",
    "ConceptHit": "provmark.detect.attribution",
    "AuditReport": "provmark.detect.audit",
    "ConceptAudit": "provmark.detect.audit",
    "ProvmarkError": "provmark.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from provmark.api import attribute, decode, embed, mark_image
    from provmark.c2pa.identity import SigningIdentity, callback_identity, load_identity
    from provmark.concepts.registry import ConceptSpec, Registry
    from provmark.detect.attribution import AttributionReport, ConceptHit
    from provmark.detect.audit import AuditReport, ConceptAudit, audit
    from provmark.detect.report import VerificationReport
    from provmark.detect.verify import Verifier, verify
    from provmark.errors import ProvmarkError
    from provmark.keys import Keys, init_keys, load_keys, load_watermark_key
    from provmark.metadata.disclosure import Disclosure
    from provmark.signing.image import SignedImage
    from provmark.signing.signer import Signer, sign
    from provmark.watermark.decision import DecodeResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'provmark' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
