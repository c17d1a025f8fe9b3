"""The verdicts of a verification: ``integrity`` from the manifest, and ``ai_generated`` with its
evidence from every source (manifest, XMP, EXIF, watermark and the content check).

A claim of generation counts from any source, a claim of no generation only from an intact C2PA
manifest; a manifest recovered through the watermark counts only when the image still shows the
signed content (a watermark can be copied onto another picture).
"""

from __future__ import annotations

from provmark.c2pa.reader import ManifestSummary
from provmark.c2pa.status import MALFORMED
from provmark.detect.report import (
    CONTENT_DIFFERS,
    CONTENT_MATCH,
    INTACT,
    TAMPERED,
    UNSIGNED,
    UNVERIFIABLE,
    VerificationReport,
    WatermarkReport,
)
from provmark.metadata.vocab import GENERATED_TYPES, NOT_GENERATED_TYPES, short_source_type


def integrity(manifest: ManifestSummary | None) -> str:
    """What the manifest shows about these bytes.

    ``tampered``: a hash, signature or hashed-URI check of the active manifest failed;
    ``unverifiable``: the manifest could not be validated (remote and not fetched, prerelease,
    unknown algorithm, corrupt) or breaks a structural rule; ``intact``: its bindings hold
    (trust, identity and ingredient problems are reported beside it); ``unsigned``: no
    manifest, or one recovered from the store, which does not sign these bytes.
    """
    if manifest is None or manifest.source == "soft-binding":
        return UNSIGNED
    if manifest.tampered:
        return TAMPERED
    if not manifest.validated or any(c.ingredient is None and c.meaning == MALFORMED for c in manifest.checks):
        return UNVERIFIABLE
    return INTACT


def ai_verdict(report: VerificationReport) -> tuple[bool | None, list[str]]:
    """Decide ``ai_generated`` and list the evidence.

    A claim of generation counts from any source (nobody forges one to their disadvantage),
    except a manifest recovered through the watermark whose content check did not match (a
    watermark can be copied onto another picture); a claim of no generation counts only from
    an intact C2PA manifest. Otherwise: unknown.
    """
    evidence: list[str] = []
    generated = not_generated = False
    manifest = report.c2pa
    mark = report.watermark
    if manifest is not None and manifest.source == "soft-binding" and mark is not None and mark.content:
        evidence.append(content_evidence(mark))
        if mark.content != CONTENT_MATCH:
            manifest = None  # its claims are about another picture, or cannot be tied to this one
    if manifest is not None and manifest.source_type_term:
        term = manifest.source_type_term
        where = (
            f"C2PA manifest recovered from the store through the watermark ({manifest.state.lower()} signer, not embedded)"
            if manifest.source == "soft-binding"
            else f"C2PA manifest ({manifest.source}, {manifest.state.lower()}, {report.integrity})"
        )
        evidence.append(f"{where}: digitalSourceType {term}")
        generated |= term in GENERATED_TYPES
        not_generated |= term in NOT_GENERATED_TYPES and report.integrity == INTACT
    if report.xmp is not None and report.xmp.digital_source_type:
        term = short_source_type(report.xmp.digital_source_type)
        evidence.append(f"XMP Iptc4xmpExt:DigitalSourceType {term} (unsigned unless the manifest is intact)")
        generated |= term in GENERATED_TYPES
    comment = report.exif.user_comment if report.exif else None
    if comment and "DigitalSourceType=" in comment:
        term = short_source_type(comment.split("DigitalSourceType=", 1)[1].split(";", 1)[0].strip())
        evidence.append(f"EXIF UserComment DigitalSourceType {term}")
        generated |= term in GENERATED_TYPES
    if mark is not None and mark.detected:
        evidence.append(f"provmark watermark detected, payload {mark.payload} (p={mark.p_value:.1e})")
        if mark.matches_manifest is not None:
            verb = "matches" if mark.matches_manifest else "does not match"
            evidence.append(f"watermark payload {verb} the manifest's c2pa.soft-binding")
    if generated:
        return True, evidence
    if not_generated:
        return False, evidence
    return None, evidence or ["no C2PA manifest, no disclosure metadata"]


def content_evidence(mark: WatermarkReport) -> str:
    """One line on whether the image still shows what was signed."""
    if mark.content == CONTENT_MATCH:
        return (
            f"content matches the signed image (fingerprint distance {mark.content_distance} of 64 bits, "
            f"at most {mark.content_threshold})"
        )
    if mark.content == CONTENT_DIFFERS:
        return (
            "watermark found, but the content differs from the signed image: possible copied watermark "
            f"(fingerprint distance {mark.content_distance} of 64 bits, more than {mark.content_threshold}); "
            "the recovered manifest's claims are not applied to this image"
        )
    return (
        "content unchecked: the store entry has no fingerprint of the signed image, so the recovered "
        "manifest's claims are not applied to this image"
    )
