"""Read and validate a C2PA manifest with c2pa-python, and summarise what it states."""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass, field
from typing import Any

import c2pa

from provmark.errors import VerificationError
from provmark.metadata.vocab import short_source_type

@dataclass
class ManifestSummary:
    """What the active manifest states, and whether c2pa-python found it valid and trusted."""

    state: str
    failures: list[str] = field(default_factory=list)
    source: str = "embedded"
    label: str | None = None
    title: str | None = None
    claim_generator: str | None = None
    signer: str | None = None
    issuer: str | None = None
    signed_at: str | None = None
    actions: list[str] = field(default_factory=list)
    digital_source_type: str | None = None
    software_agent: str | None = None
    training_mining: dict[str, str] | None = None
    creator: list[str] = field(default_factory=list)
    soft_bindings: list[dict[str, str]] = field(default_factory=list)
    has_parent: bool = False

    @property
    def source_type_term(self) -> str | None:
        """The digital source type without its vocabulary prefix."""
        return short_source_type(self.digital_source_type) if self.digital_source_type else None


def reader_context(trust_pems: list[str] | None) -> c2pa.Context:
    """Reading context: trust anchors (if any), no network."""
    config: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_pems:
        config["trust"] = {"user_anchors": "\n".join(p.strip() for p in trust_pems) + "\n"}
    return c2pa.Context.from_dict(config)


def read_manifest(
    data: bytes,
    mime: str | None,
    *,
    trust_pems: list[str] | None = None,
    manifest_store: bytes | None = None,
    source: str = "embedded",
) -> ManifestSummary | None:
    """Validate the manifest of ``data`` (or ``manifest_store`` for a sidecar); None if there is none.

    Raises :class:`VerificationError` if C2PA data is present but cannot be parsed at all.
    """
    context = reader_context(trust_pems)
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data), manifest_store, context=context)
        if reader is None:
            return None
        with reader:
            manifest = reader.get_active_manifest() or {}
            state = reader.get_validation_state() or "Invalid"
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        raise VerificationError(f"unreadable C2PA data: {' '.join(str(exc).split())}") from None
    finally:
        context.close()
    return summarize(manifest, state, results, source)


def has_manifest(data: bytes, mime: str) -> bool:
    """True if ``data`` carries any C2PA manifest (valid or not)."""
    try:
        return read_manifest(data, mime) is not None
    except VerificationError:
        return True


#: Failure codes about who signed and when, not about whether the content changed.
TRUST_CODE_PREFIXES = ("signingCredential.", "timeStamp.")
#: Failure codes of the hard binding (hash of the asset bytes).
HARD_BINDING_FAILURES = frozenset(
    {"assertion.dataHash.mismatch", "assertion.boxesHash.mismatch", "assertion.bmffHash.mismatch"}
)


def summarize(manifest: dict[str, Any], state: str, results: dict[str, Any], source: str) -> ManifestSummary:
    """Build a :class:`ManifestSummary` from c2pa-python's manifest JSON.

    A manifest recovered through a soft binding cannot match the bytes of the stripped image
    it was found for, so its hard-binding failures are dropped and the state is recomputed
    from the signature and trust results alone.
    """
    active = results.get("activeManifest", {})
    failures = [f.get("code", "?") for f in active.get("failure", [])]
    if source == "soft-binding":
        failures = [code for code in failures if code not in HARD_BINDING_FAILURES]
        trusted = any(s.get("code") == "signingCredential.trusted" for s in active.get("success", []))
        broken = any(not code.startswith(TRUST_CODE_PREFIXES) for code in failures)
        state = "Invalid" if broken else "Trusted" if trusted and not failures else "Valid"
    sig = manifest.get("signature_info") or {}
    gen = (manifest.get("claim_generator_info") or [{}])[0]
    summary = ManifestSummary(
        state=state,
        failures=failures,
        source=source,
        label=manifest.get("label"),
        title=manifest.get("title"),
        claim_generator=" ".join(str(gen[k]) for k in ("name", "version") if gen.get(k)) or manifest.get("claim_generator"),
        signer=sig.get("common_name"),
        issuer=sig.get("issuer"),
        signed_at=sig.get("time"),
        has_parent=any(i.get("relationship") == "parentOf" for i in manifest.get("ingredients") or []),
    )
    for assertion in manifest.get("assertions") or []:
        label, data = assertion.get("label", ""), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            _read_actions(summary, data)
        elif label.startswith("cawg.training-mining") or label.startswith("c2pa.training-mining"):
            entries = data.get("entries") or {}
            summary.training_mining = {k: str(v.get("use")) for k, v in entries.items() if isinstance(v, dict)}
        elif label.startswith("stds.schema-org.CreativeWork"):
            authors = data.get("author") or []
            summary.creator += [a["name"] for a in authors if isinstance(a, dict) and a.get("name")]
        elif label.startswith("c2pa.soft-binding"):
            for block in data.get("blocks") or []:
                summary.soft_bindings.append({"alg": str(data.get("alg")), "value": _payload_hex(block.get("value"))})
    return summary


def _read_actions(summary: ManifestSummary, data: dict[str, Any]) -> None:
    for action in data.get("actions") or []:
        summary.actions.append(str(action.get("action")))
        if action.get("digitalSourceType") and summary.digital_source_type is None:
            summary.digital_source_type = str(action["digitalSourceType"])
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k))
            summary.software_agent = str(agent) if agent else None


def _payload_hex(value: object) -> str:
    """Soft-binding values are base64; report them as hex (the watermark payload's spelling)."""
    try:
        return base64.b64decode(str(value), validate=True).hex()
    except (binascii.Error, ValueError):
        return str(value)
