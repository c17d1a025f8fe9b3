"""The plain verdict shown at the top of the page, from a ``provmark verify --json`` report."""

from __future__ import annotations

from typing import Any

#: Verdict kinds (the page colours them).
AI, NOT_AI, NONE, TAMPERED, COPIED, UNCLEAR, CONCEPTS = "ai", "not-ai", "none", "tampered", "copied", "unclear", "concepts"


def headline(report: dict[str, Any]) -> dict[str, str]:
    """``{"kind": ..., "text": ...}``: one sentence a person can act on.

    >>> headline({"c2pa": {"present": False}, "ai_generated": "unknown", "integrity": "unsigned",
    ...           "metadata": {"xmp": None, "exif": None}, "watermark": {"detected": False}})
    {'kind': 'none', 'text': 'No provenance found: no C2PA manifest, no disclosure metadata, no watermark.'}
    """
    c2pa = report.get("c2pa") or {}
    mark = report.get("watermark") or {}
    signer = c2pa.get("signer") or c2pa.get("issuer") or "an unnamed signer"
    trusted = c2pa.get("state") == "Trusted"
    who = f"signed by {signer}" + ("" if trusted else " (not a trusted signer here)")
    if report.get("integrity") == "tampered":
        return _say(TAMPERED, f"Tampered: the image was changed after it was signed by {signer}.")
    if mark.get("content") == "differs":
        return _say(COPIED, "Watermark found, but the content differs from the signed image: possible copied watermark.")
    recovered = c2pa.get("source") == "soft-binding"
    if report.get("ai_generated") is True:
        if c2pa.get("present") and (report.get("integrity") == "intact" or recovered):
            how = " (metadata stripped; provenance recovered through the watermark)" if recovered else ""
            return _say(AI, f"AI-generated, {who}{how}.")
        return _say(AI, "AI-generated, by its own unsigned disclosure metadata.")
    if report.get("ai_generated") is False:
        return _say(NOT_AI, f"Not AI-generated, {who}.")
    if mark.get("content") == "unchecked":
        return _say(UNCLEAR, "Watermark found, but the signed content could not be checked (old store entry).")
    if mark.get("detected"):
        return _say(UNCLEAR, "Watermark found, but its manifest is not in this service's store.")
    if not c2pa.get("present"):
        hits = (report.get("attribution") or {}).get("concepts") or []
        if hits:
            named = ", ".join(h["name"] + (f" ({h['owner']})" if h.get("owner") else "") for h in hits)
            return _say(CONCEPTS, f"Carries registered concepts: {named}. No C2PA manifest, no provenance watermark.")
        return _say(NONE, "No provenance found: no C2PA manifest, no disclosure metadata, no watermark.")
    return _say(UNCLEAR, "Provenance found, but it does not say whether the image is AI-generated.")


def _say(kind: str, text: str) -> dict[str, str]:
    return {"kind": kind, "text": text}
