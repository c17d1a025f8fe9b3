"""The C2PA manifest definition provmark signs: actions, training-and-mining, CAWG metadata (creator), soft binding."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from provmark import __version__
from provmark.metadata.disclosure import Disclosure
from provmark.metadata.vocab import TRAINING_MINING_ENTRIES, source_type_uri

#: Our soft-binding algorithm name (reverse-domain, as C2PA asks for non-registered algorithms).
SOFT_BINDING_ALG = "io.provmark.watermark.1"
#: Label given to the parent ingredient so actions can point at it.
PARENT_LABEL = "parent"
#: JSON-LD namespaces of the cawg.metadata assertion.
DC_NS = "http://purl.org/dc/elements/1.1/"
SCHEMA_NS = "http://schema.org/"


@dataclass(frozen=True)
class SoftBinding:
    """A watermark that binds the manifest to the pixels: algorithm name and payload."""

    payload: bytes
    alg: str = SOFT_BINDING_ALG


def _software_agent(disclosure: Disclosure) -> dict[str, str]:
    agent = {"name": disclosure.generator_name}
    if disclosure.generator_version:
        agent["version"] = disclosure.generator_version
    return agent


def actions(
    disclosure: Disclosure, has_parent: bool, soft_binding: SoftBinding | None, parent_note: str | None = None
) -> list[dict[str, Any]]:
    """The ``c2pa.actions`` list: created (or opened + edited when there is a parent), then watermarked.

    ``parent_note`` (why the parent's manifest did not validate) is kept in the edit's description.
    """
    agent = _software_agent(disclosure)
    what = {"digitalSourceType": source_type_uri(disclosure.source_type_term), "softwareAgent": agent}
    if has_parent:
        edited: dict[str, Any] = {"action": "c2pa.edited", **what}
        if parent_note:
            edited["description"] = f"edited from a parent whose manifest did not validate: {parent_note}"
        result = [{"action": "c2pa.opened", "parameters": {"ingredientIds": [PARENT_LABEL]}}, edited]
    else:
        result = [{"action": "c2pa.created", **what}]
    if soft_binding is not None:
        result.append(
            {
                "action": "c2pa.watermarked",
                "softwareAgent": {"name": "provmark", "version": __version__},
                "parameters": {"description": f"invisible watermark {soft_binding.alg}"},
            }
        )
    return result


def training_mining(disclosure: Disclosure) -> dict[str, Any]:
    """The ``cawg.training-mining`` assertion data."""
    entry: dict[str, str] = {"use": disclosure.training_mining}
    if disclosure.training_mining == "constrained" and disclosure.constraint_info:
        entry["constraint_info"] = disclosure.constraint_info
    return {"entries": {name: dict(entry) for name in TRAINING_MINING_ENTRIES}}


def creator_metadata(disclosure: Disclosure) -> dict[str, Any]:
    """The ``cawg.metadata`` assertion data: the creator (Dublin Core), as a person or an organisation."""
    kind = "Organization" if disclosure.creator_type == "organization" else "Person"
    return {
        "@context": {"dc": DC_NS, "schema": SCHEMA_NS},
        "dc:creator": [disclosure.creator],
        "schema:creator": {"@type": f"schema:{kind}", "schema:name": disclosure.creator},
    }


def build_manifest(
    disclosure: Disclosure,
    title: str,
    *,
    has_parent: bool = False,
    soft_binding: SoftBinding | None = None,
    parent_note: str | None = None,
) -> dict[str, Any]:
    """Return the manifest definition for c2pa-python's ``Builder``."""
    assertions: list[dict[str, Any]] = [
        {"label": "c2pa.actions", "data": {"actions": actions(disclosure, has_parent, soft_binding, parent_note)}},
        {"label": "cawg.training-mining", "data": training_mining(disclosure)},
    ]
    if disclosure.creator:
        assertions.append({"label": "cawg.metadata", "data": creator_metadata(disclosure)})
    if soft_binding is not None:
        assertions.append(
            {
                "label": "c2pa.soft-binding",
                "data": {"alg": soft_binding.alg, "blocks": [{"scope": {}, "value": base64.b64encode(soft_binding.payload).decode("ascii")}]},
            }
        )
    return {
        "claim_generator_info": [{"name": "provmark", "version": __version__}],
        "title": disclosure.title or title,
        "assertions": assertions,
    }
