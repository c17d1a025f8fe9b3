"""Read and validate a C2PA manifest with c2pa-python, and summarise what it states.

c2pa.Reader is the reference: its validation state is reported as it is, every failure code it
lists is kept (those of ingredients with the ingredient they belong to), and what it cannot
validate (a remote manifest not fetched, a prerelease manifest, an unknown algorithm, corrupt
data) is reported as such, with its reason, never as a made-up failure code.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass, field
from typing import Any

import c2pa

from provmark.c2pa.status import IDENTITY, TRUST, FailedCheck, manifest_of_url, meaning_of
from provmark.metadata.vocab import short_source_type

#: State given when c2pa.Reader could not validate the manifest at all (see ``problem``).
UNREADABLE = "Unreadable"
#: Why a manifest could not be validated.
REMOTE, PRERELEASE, UNSUPPORTED_ALGORITHM, CORRUPT = "remote", "prerelease", "unsupported-algorithm", "corrupt"
#: c2pa-python could not parse the file's own structure (not necessarily any C2PA data in it).
UNPARSEABLE = "unparseable-file"

#: Failure codes of the hard binding (hash of the asset bytes).
HARD_BINDING_FAILURES = frozenset(
    {"assertion.dataHash.mismatch", "assertion.boxesHash.mismatch", "assertion.bmffHash.mismatch"}
)


@dataclass
class ManifestSummary:
    """What the active manifest states, and whether c2pa-python found it valid and trusted.

    ``state`` is c2pa.Reader's (Trusted, Valid, Invalid), or ``Unreadable`` with ``problem``
    (remote, prerelease, unsupported-algorithm, corrupt, unparseable-file) and ``problem_detail``.
    ``failures`` are the codes the Reader lists for the active manifest; ``checks`` are all
    failed checks, classified (:mod:`provmark.c2pa.status`), ingredients' ones included.
    """

    state: str
    failures: list[str] = field(default_factory=list)
    checks: list[FailedCheck] = field(default_factory=list)
    source: str = "embedded"
    problem: str | None = None
    problem_detail: str | None = None
    remote_url: str | None = None
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
    identities: list[str] = field(default_factory=list)
    soft_bindings: list[dict[str, str]] = field(default_factory=list)
    has_parent: bool = False

    @property
    def source_type_term(self) -> str | None:
        """The digital source type without its vocabulary prefix."""
        return short_source_type(self.digital_source_type) if self.digital_source_type else None

    @property
    def tampered(self) -> bool:
        """True when a hash, signature or hashed-URI check of the active manifest failed."""
        return any(check.breaks_active_manifest for check in self.checks)

    @property
    def validated(self) -> bool:
        """True when c2pa.Reader could validate the manifest (it is not remote, prerelease or corrupt)."""
        return self.problem is None


def reader_context(trust_pems: list[str] | None, fetch_remote: bool = False) -> c2pa.Context:
    """Reading context: trust anchors (if any); no network unless ``fetch_remote``."""
    config: dict[str, Any] = {"verify": {"remote_manifest_fetch": fetch_remote, "ocsp_fetch": False}}
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
    fetch_remote: bool = False,
) -> ManifestSummary | None:
    """Validate the manifest of ``data`` (or ``manifest_store`` for a sidecar); None if there is none.

    Never raises for bad C2PA data: what the Reader cannot validate comes back as an
    ``Unreadable`` summary whose ``problem`` says why.
    """
    context = reader_context(trust_pems, fetch_remote)
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data), manifest_store, context=context)
        if reader is None:
            return None
        with reader:
            state = reader.get_validation_state() or "Invalid"
            results = reader.get_validation_results() or {}
            remote_url = None if reader.is_embedded() else reader.get_remote_url()
            try:
                manifest = reader.get_active_manifest() or {}
            except KeyError:  # a manifest store whose active manifest is gone
                manifest = {}
    except c2pa.C2paError as exc:
        return unreadable(str(exc), source)
    finally:
        context.close()
    summary = summarize(manifest, state, results, "remote" if remote_url else source)
    summary.remote_url = remote_url
    if not manifest:
        summary.problem, summary.problem_detail = CORRUPT, "the manifest store has no readable active manifest"
    return summary


def unreadable(message: str, source: str = "embedded") -> ManifestSummary:
    """The summary of C2PA data c2pa.Reader refused, with the Reader's reason in one line."""
    text = " ".join(message.split())
    lower = text.lower()
    url = re.search(r"(https?://\S+)", text)
    if "remote" in lower and url:
        detail = f"the manifest is remote, at {url.group(1)} (not fetched; --fetch-remote fetches it)"
        if "must fetch" not in lower:
            detail = f"the remote manifest at {url.group(1)} could not be fetched: {text}"
        return ManifestSummary(state=UNREADABLE, source="remote", problem=REMOTE, problem_detail=detail, remote_url=url.group(1))
    if "prerelease" in lower:
        kind, detail = PRERELEASE, f"a prerelease C2PA manifest, which cannot be validated ({text})"
    elif "algorithm" in lower:
        kind, detail = UNSUPPORTED_ALGORITHM, f"the manifest uses an unknown or unsupported algorithm ({text})"
    elif "asset could not be parsed" in lower:
        kind, detail = UNPARSEABLE, f"c2pa cannot parse this file's structure: {text}"
    else:
        kind, detail = CORRUPT, f"C2PA data present but unreadable: {text}"
    return ManifestSummary(state=UNREADABLE, source=source, problem=kind, problem_detail=detail)


def summarize(manifest: dict[str, Any], state: str, results: dict[str, Any], source: str) -> ManifestSummary:
    """Build a :class:`ManifestSummary` from c2pa-python's manifest JSON and validation results.

    A manifest recovered through a soft binding cannot match the bytes of the stripped image
    it was found for, so its hard-binding failures are dropped and the state is recomputed
    from the signature and trust results alone.
    """
    active = results.get("activeManifest", {})
    failures = [f.get("code", "?") for f in active.get("failure", [])]
    checks = failed_checks(manifest, results)
    if source == "soft-binding":
        failures = [code for code in failures if code not in HARD_BINDING_FAILURES]
        checks = [c for c in checks if c.code not in HARD_BINDING_FAILURES]
        trusted = any(s.get("code") == "signingCredential.trusted" for s in active.get("success", []))
        broken = any(c.ingredient is None and c.meaning not in (TRUST, IDENTITY) for c in checks)
        state = "Invalid" if broken else "Trusted" if trusted and not failures else "Valid"
    sig = manifest.get("signature_info") or {}
    gen = (manifest.get("claim_generator_info") or [{}])[0]
    summary = ManifestSummary(
        state=state,
        failures=failures,
        checks=checks,
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
        _read_assertion(summary, assertion.get("label", ""), assertion.get("data") or {})
    return summary


def failed_checks(manifest: dict[str, Any], results: dict[str, Any]) -> list[FailedCheck]:
    """Every failure the Reader lists, classified, each with the ingredient it belongs to (if any),
    and the failures recorded in each ingredient when it was signed in."""
    ingredients = manifest.get("ingredients") or []
    by_label = {str(i.get("label")): _name(i) for i in ingredients if i.get("label")}
    by_manifest = {str(i.get("active_manifest")): _name(i) for i in ingredients if i.get("active_manifest")}
    own = manifest.get("label")

    def owner(url: str | None) -> str | None:
        target = manifest_of_url(url) or url
        if target in by_manifest:
            return by_manifest[target]
        if own and manifest_of_url(url) not in (None, own):
            return manifest_of_url(url)
        return None

    checks = [_check(f, owner(f.get("url"))) for f in results.get("activeManifest", {}).get("failure", [])]
    seen = {(c.code, c.url) for c in checks}
    for delta in results.get("ingredientDeltas") or []:
        uri = str(delta.get("ingredientAssertionURI") or "")
        name = by_label.get(uri.rsplit("/", 1)[-1]) or uri.rsplit("/", 1)[-1] or "ingredient"
        for failure in (delta.get("validationDeltas") or {}).get("failure", []):
            if (failure.get("code"), failure.get("url")) not in seen:
                seen.add((failure.get("code"), failure.get("url")))
                checks.append(_check(failure, name))
    # What each ingredient's manifest failed when it was added (recorded in the ingredient assertion).
    for ingredient in ingredients:
        recorded = (ingredient.get("validation_results") or {}).get("activeManifest") or {}
        for failure in recorded.get("failure", []):
            if (failure.get("code"), failure.get("url")) not in seen:
                seen.add((failure.get("code"), failure.get("url")))
                checks.append(_check(failure, _name(ingredient)))
    return checks


def _check(failure: dict[str, Any], ingredient: str | None) -> FailedCheck:
    code = str(failure.get("code", "?"))
    meaning = meaning_of(code)
    return FailedCheck(code, meaning, failure.get("explanation"), failure.get("url"), ingredient)


def _name(ingredient: dict[str, Any]) -> str:
    return str(ingredient.get("title") or ingredient.get("label") or "ingredient")


def _read_assertion(summary: ManifestSummary, label: str, data: dict[str, Any]) -> None:
    if label.startswith("c2pa.actions"):
        _read_actions(summary, data)
    elif label.startswith(("cawg.training-mining", "c2pa.training-mining")):
        entries = data.get("entries") or {}
        summary.training_mining = {k: str(v.get("use")) for k, v in entries.items() if isinstance(v, dict)}
    elif label.startswith("cawg.metadata"):
        summary.creator += [str(c) for c in _as_list(data.get("dc:creator")) if isinstance(c, str)]
    elif label.startswith("stds.schema-org.CreativeWork"):  # older manifests
        authors = _as_list(data.get("author"))
        summary.creator += [a["name"] for a in authors if isinstance(a, dict) and a.get("name")]
    elif label.startswith("cawg.identity"):
        info = data.get("signature_info") or {}
        who = info.get("common_name") or info.get("issuer")
        if who:
            summary.identities.append(str(who))
    elif label.startswith("c2pa.soft-binding"):
        for block in data.get("blocks") or []:
            summary.soft_bindings.append({"alg": str(data.get("alg")), "value": _payload_hex(block.get("value"))})


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


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


def manifest_thumbnail(manifest_store: bytes) -> tuple[bytes, str] | None:
    """The active manifest's thumbnail (bytes, MIME type) from a manifest store, if it has one."""
    try:
        with c2pa.Reader("application/c2pa", io.BytesIO(manifest_store)) as reader:
            thumbnail = (reader.get_active_manifest() or {}).get("thumbnail") or {}
            if not thumbnail.get("identifier"):
                return None
            out = io.BytesIO()
            reader.resource_to_stream(thumbnail["identifier"], out)
    except c2pa.C2paError:
        return None
    return out.getvalue(), str(thumbnail.get("format") or "image/jpeg")
