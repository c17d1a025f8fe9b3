"""C2PA validation status codes, classified by what they mean rather than by their exact spelling.

A code names a subject and an outcome (``claimSignature.mismatch``, ``signingCredential.untrusted``,
``cawg.x509.credential.untrusted``). Matching on those parts, not on a list of known codes, keeps
renamed and newly added codes in the right class:

- ``tampering``: a hash, signature or hashed-URI check failed: the content or the manifest changed
  after signing;
- ``trust``: who signed and when (credential untrusted, expired or revoked, time-stamp problems);
  the manifest itself is intact;
- ``identity``: a CAWG identity assertion (its credential or its signature); the manifest is intact;
- ``ingredient``: a check of an ingredient's own manifest (the history, not this manifest);
- ``malformed``: the manifest breaks a structural rule (unknown algorithm, bad CBOR, a missing
  required assertion): it is invalid without showing that anything was changed.
"""

from __future__ import annotations

from dataclasses import dataclass

TAMPERING, TRUST, IDENTITY, INGREDIENT, MALFORMED = "tampering", "trust", "identity", "ingredient", "malformed"

#: Outcomes that concern the signer's credential or its time, never the content.
_TRUST_OUTCOMES = frozenset({"untrusted", "expired", "revoked", "outsideValidity"})
#: Subjects whose failures are about trust (certificates, OCSP, time-stamps).
_TRUST_SUBJECTS = ("signingcredential", "timestamp", "ocsp", "credential")
#: Subjects whose absence means a signed part was removed.
_SIGNED_PARTS = ("claimsignature", "assertion", "hardbindings", "hasheduri")


@dataclass(frozen=True)
class FailedCheck:
    """One failed validation check: its code, what it means, and where it belongs.

    ``ingredient`` is the title (or label) of the ingredient whose manifest failed the check;
    None means the active manifest.
    """

    code: str
    meaning: str
    explanation: str | None = None
    url: str | None = None
    ingredient: str | None = None

    @property
    def breaks_active_manifest(self) -> bool:
        """True when this check shows the active manifest or its content was changed."""
        return self.ingredient is None and self.meaning == TAMPERING


def meaning_of(code: str) -> str:
    """Classify a validation status code (see the module docstring)."""
    parts = code.split(".")
    head, outcome = parts[0].lower(), parts[-1]
    subject = ".".join(parts[:-1]).lower()
    if head == "cawg" or "identity" in subject:
        return IDENTITY
    if head == "ingredient":
        return INGREDIENT
    if any(word in subject for word in _TRUST_SUBJECTS) or outcome in _TRUST_OUTCOMES:
        return TRUST
    if outcome == "mismatch":
        return TAMPERING
    if outcome == "missing" and any(part in subject for part in _SIGNED_PARTS) and "required" not in subject:
        return TAMPERING
    return MALFORMED


def manifest_of_url(url: str | None) -> str | None:
    """The manifest label a JUMBF URL points into (``self#jumbf=/c2pa/LABEL/...``), else None."""
    if not url or "/c2pa/" not in url:
        return None
    return url.split("/c2pa/", 1)[1].split("/", 1)[0] or None
