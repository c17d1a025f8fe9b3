"""The public API: every name a pipeline, a tool or the ``provmark`` command needs, in one table.

:mod:`provmark` exports the few a pipeline needs (signing, verifying, the watermark and concept
marks, keys, registries, their results); this module holds those and what tools built on
provmark need beyond them: files, catalogs, training runs, Ray batches, the web service, and the
vocabularies their options take. Each name is imported on first use, so ``import provmark.api``
loads no torch until a name that touches pixels is used. Names not listed here are internal.

Mark a file, a catalog folder, train a model::

    from provmark.api import FixedConcepts, Registry, TrainConfig, embed_file, mark_catalog, train_model

    embed_file("photo.jpg", "out/photo.jpg", "0123456789abcdef", "keys")   # same format, metadata kept
    with Registry.open("catalog.db") as registry:                              # marked copies, recorded
        summary = mark_catalog("photos", "marked", registry, FixedConcepts(("red-fox",)))
    state = train_model("runs/v3", TrainConfig(data="photos"))                # resumable run folder

Attribute or verify many files on a Ray cluster::

    from provmark.api import Verifier, verify_on_ray

    for path, report in verify_on_ray(paths, Verifier(keys="keys").options, address="auto"):
        ...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it; the first block is what ``provmark`` itself exports.
_EXPORTS = {
    # pipeline
    "sign": "provmark.signing.signer",
    "verify": "provmark.detect.verify",
    "embed": "provmark.pixels",
    "decode": "provmark.pixels",
    "mark_image": "provmark.pixels",
    "attribute": "provmark.pixels",
    "audit": "provmark.detect.audit",
    "Signer": "provmark.signing.signer",
    "Verifier": "provmark.detect.verify",
    "Keys": "provmark.keys",
    "load_keys": "provmark.keys",
    "init_keys": "provmark.keys",
    "load_watermark_key": "provmark.keys",
    "Registry": "provmark.concepts.registry",
    "ConceptSpec": "provmark.concepts.records",
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
    # files and vocabularies
    "ImageInput": "provmark.io.images",
    "embed_file": "provmark.pixels",
    "parse_payload": "provmark.pixels",
    "prepare_out_dir": "provmark.io.atomic",
    "KeyPaths": "provmark.keys",
    "PAYLOAD_BYTES": "provmark.watermark.codec",
    "DEFAULT_GRID": "provmark.watermark.concept_channel",
    "CREATOR_TYPES": "provmark.metadata.disclosure",
    "SOURCE_TYPES": "provmark.metadata.vocab",
    "TRAINING_MINING": "provmark.metadata.vocab",
    "ALL_SAMPLES": "provmark.detect.audit",
    "MARKS": "provmark.detect.audit",
    # concept registries and catalogs
    "ImageRecord": "provmark.concepts.records",
    "CsvRowsError": "provmark.concepts.tables",
    "read_concept_csv": "provmark.concepts.tables",
    "read_concept_map": "provmark.concepts.tables",
    "LAYOUTS": "provmark.concepts.layout",
    "layout_size": "provmark.concepts.layout",
    "MarkOptions": "provmark.concepts.marker",
    "ConceptSource": "provmark.concepts.sources",
    "FixedConcepts": "provmark.concepts.sources",
    "MappedConcepts": "provmark.concepts.sources",
    "FolderConcepts": "provmark.concepts.sources",
    "check_known": "provmark.concepts.sources",
    "is_image_name": "provmark.concepts.catalog",
    "walk_catalog": "provmark.concepts.catalog",
    "check_folders": "provmark.concepts.catalog",
    "count_images": "provmark.concepts.catalog",
    "mark_catalog": "provmark.concepts.catalog",
    "Outcome": "provmark.concepts.catalog",
    "CatalogSummary": "provmark.concepts.catalog",
    # training runs
    "train_model": "provmark.runs",
    "TrainConfig": "provmark.models.training",
    "TrainState": "provmark.models.training",
    "ModelConfig": "provmark.models.config",
    # Ray batches and the web service
    "attribute_on_ray": "provmark.cluster",
    "verify_on_ray": "provmark.cluster",
    "Engine": "provmark.serve",
    "Limits": "provmark.serve",
    "create_app": "provmark.serve",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from provmark.c2pa.identity import SigningIdentity, callback_identity, load_identity
    from provmark.cluster import attribute_on_ray, verify_on_ray
    from provmark.concepts.catalog import (
        CatalogSummary,
        Outcome,
        check_folders,
        count_images,
        is_image_name,
        mark_catalog,
        walk_catalog,
    )
    from provmark.concepts.layout import LAYOUTS, layout_size
    from provmark.concepts.marker import MarkOptions
    from provmark.concepts.records import ConceptSpec, ImageRecord
    from provmark.concepts.registry import Registry
    from provmark.concepts.sources import ConceptSource, FixedConcepts, FolderConcepts, MappedConcepts, check_known
    from provmark.concepts.tables import CsvRowsError, read_concept_csv, read_concept_map
    from provmark.detect.attribution import AttributionReport, ConceptHit
    from provmark.detect.audit import ALL_SAMPLES, MARKS, AuditReport, ConceptAudit, audit
    from provmark.detect.report import VerificationReport
    from provmark.detect.verify import Verifier, verify
    from provmark.errors import ProvmarkError
    from provmark.io.atomic import prepare_out_dir
    from provmark.io.images import ImageInput
    from provmark.keys import KeyPaths, Keys, init_keys, load_keys, load_watermark_key
    from provmark.metadata.disclosure import CREATOR_TYPES, Disclosure
    from provmark.metadata.vocab import SOURCE_TYPES, TRAINING_MINING
    from provmark.models.config import ModelConfig
    from provmark.models.training import TrainConfig, TrainState
    from provmark.pixels import attribute, decode, embed, embed_file, mark_image, parse_payload
    from provmark.runs import train_model
    from provmark.serve import Engine, Limits, create_app
    from provmark.signing.image import SignedImage
    from provmark.signing.signer import Signer, sign
    from provmark.watermark.codec import PAYLOAD_BYTES
    from provmark.watermark.concept_channel import DEFAULT_GRID
    from provmark.watermark.decision import DecodeResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'provmark.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
