"""Verify images: C2PA manifest (embedded, sidecar, or recovered through the watermark), XMP and
EXIF disclosure, watermark and content check, gathered into a report whose verdicts
``ai_generated`` and ``integrity`` :mod:`provmark.detect.verdict` decides.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from provmark.c2pa.reader import CORRUPT, UNPARSEABLE, ManifestSummary, read_manifest
from provmark.c2pa.signer import C2PA_MIME_TYPES
from provmark.c2pa.store import ManifestStore
from provmark.detect.report import (
    CONTENT_DIFFERS, CONTENT_MATCH, CONTENT_UNCHECKED, INTACT, VerificationReport, WatermarkReport,
)  # fmt: skip
from provmark.detect.verdict import ai_verdict, integrity
from provmark.errors import InputImageError, VerificationError, WatermarkError
from provmark.io.codecs import C2PA_ONLY, sniff_c2pa_mime
from provmark.io.images import ImageInput, LoadedImage, load_image
from provmark.keys import Keys, load_keys, load_watermark_key, read_trust_anchor
from provmark.metadata.exif import read_exif_disclosure
from provmark.metadata.xmp import read_xmp_disclosure


@dataclass
class VerifyOptions:
    """Trust anchors (PEM texts), and optionally a watermark key and the manifest store.

    ``fetch_remote`` lets c2pa-python fetch a manifest the file points to by URL (off by default:
    verifying a file should not contact whoever the file names).
    """

    trust_pems: list[str] = field(default_factory=list)
    watermark_key: bytes | None = None
    store: ManifestStore | None = None
    fetch_remote: bool = False
    #: Store entries already validated, by payload, kept from one call to the next (entries never
    #: change once written): a long-lived verifier such as a service worker sets one.
    recovered: dict[bytes, ManifestSummary] | None = None


def build_options(
    trust_files: Sequence[str | os.PathLike[str]] = (),
    keys: Keys | str | os.PathLike[str] | None = None,
    watermark_key: bytes | str | os.PathLike[str] | None = None,
    store_dir: str | os.PathLike[str] | None = None,
    fetch_remote: bool = False,
) -> VerifyOptions:
    """Options from trust anchor files, a keys folder (its CA, watermark key and store), a watermark
    key (bytes or file) and a manifest store folder; the explicit ones win over the keys folder's."""
    options = VerifyOptions(trust_pems=[read_trust_anchor(p) for p in trust_files], fetch_remote=fetch_remote)
    if keys is not None:
        keys = keys if isinstance(keys, Keys) else load_keys(keys)
        options.trust_pems += keys.trust_pems
        options.watermark_key = keys.watermark_key
        options.store = keys.store
    if watermark_key is not None:
        options.watermark_key = load_watermark_key(watermark_key)
    if store_dir is not None:
        options.store = ManifestStore(store_dir)
    return options


class Verifier:
    """Verifies images against fixed trust anchors, watermark key and manifest store (read once).

    >>> verifier = Verifier(keys="keys")  # doctest: +SKIP
    >>> report = verifier.verify(open("signed.jpg", "rb").read())  # doctest: +SKIP
    >>> report.ai_generated, report.integrity, report.verified  # doctest: +SKIP
    (True, 'intact', True)
    """

    def __init__(
        self,
        keys: Keys | str | os.PathLike[str] | None = None,
        *,
        trust: Sequence[str | os.PathLike[str]] = (),
        watermark_key: bytes | str | os.PathLike[str] | None = None,
        store: str | os.PathLike[str] | None = None,
        fetch_remote: bool = False,
    ) -> None:
        self.options = build_options(trust, keys, watermark_key, store, fetch_remote)

    def verify(self, source: ImageInput) -> VerificationReport:
        """Verify a path (a ``NAME.c2pa`` sidecar beside it counts), file bytes, or decoded pixels.

        Decoded pixels (a PIL image or array) carry no C2PA manifest: only their metadata and
        watermark are checked, and the manifest is found through the watermark if stored.
        """
        if isinstance(source, (str, os.PathLike)):
            return verify_file(source, self.options)
        data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else None
        return verify_loaded(load_image(data if data is not None else source), data, self.options)


def verify(
    image: ImageInput,
    *,
    keys: Keys | str | os.PathLike[str] | None = None,
    trust: Sequence[str | os.PathLike[str]] = (),
    watermark_key: bytes | str | os.PathLike[str] | None = None,
    store: str | os.PathLike[str] | None = None,
    fetch_remote: bool = False,
) -> VerificationReport:
    """What ``image`` says about itself and whether it holds: C2PA, disclosure, watermark, verdicts.

    Pass file bytes or a path to check the C2PA manifest (decoded pixels carry none). ``keys``
    trusts the folder's CA, reads the watermark with its key and looks manifests up in its store.
    For many images, make one :class:`~provmark.detect.verify.Verifier`.

    >>> report = verify(open("signed.jpg", "rb").read(), keys="keys")  # doctest: +SKIP
    >>> report.ai_generated, report.integrity  # doctest: +SKIP
    (True, 'intact')
    """
    return Verifier(keys, trust=trust, watermark_key=watermark_key, store=store, fetch_remote=fetch_remote).verify(image)


def verify_file(path: str | os.PathLike[str], options: VerifyOptions | None = None) -> VerificationReport:
    """Verify one image file (a ``NAME.c2pa`` sidecar next to it is used when present)."""
    path = Path(path)
    options = options or VerifyOptions()
    sidecar_path = path.with_suffix(".c2pa")
    sidecar = sidecar_path.read_bytes() if sidecar_path.is_file() and sidecar_path != path else None
    try:
        loaded = load_image(path)
    except InputImageError as exc:
        # A file c2pa reads but provmark cannot decode (SVG, an odd TIFF): the manifest is still checked.
        data = path.read_bytes() if path.is_file() else b""
        mime = sniff_c2pa_mime(data)
        if mime is None:
            raise
        reason = str(exc).removeprefix(f"{path}: ")
        if mime in C2PA_ONLY:
            reason = f"not checked: provmark has no {C2PA_ONLY[mime]} decoder (the manifest is checked)"
        report = verify_undecoded(str(path), mime, data, options, reason, sidecar)
        if mime not in C2PA_ONLY and (report.c2pa is None or report.c2pa.problem in (CORRUPT, UNPARSEABLE)):
            raise  # neither pixels nor a manifest could be read: the file is broken
        return report
    return verify_loaded(loaded, path.read_bytes(), options, sidecar=sidecar)


def verify_undecoded(
    name: str, mime: str, data: bytes, options: VerifyOptions, reason: str, sidecar: bytes | None = None
) -> VerificationReport:
    """Verify only the manifest of a file whose pixels cannot be decoded (``reason`` says why)."""
    manifest = read_manifest(
        data, mime, trust_pems=options.trust_pems, manifest_store=sidecar,
        source="sidecar" if sidecar is not None else "embedded", fetch_remote=options.fetch_remote,
    )  # fmt: skip
    report = VerificationReport(
        path=name, format=C2PA_ONLY.get(mime, mime.split("/")[-1].upper()), integrity=integrity(manifest),
        ai_generated=None, c2pa=manifest, image_error=reason,
    )  # fmt: skip
    report.ai_generated, report.evidence = ai_verdict(report)
    return report


def verify_loaded(
    loaded: LoadedImage, data: bytes | None, options: VerifyOptions, sidecar: bytes | None = None
) -> VerificationReport:
    """Verify a decoded image whose file content is ``data`` (None: pixels only, no manifest to read)."""
    manifest = _embedded_manifest(loaded, data, options, sidecar)
    watermark = None
    if options.watermark_key is not None:
        watermark, recovered = _watermark(loaded, options, embedded=manifest)
        if manifest is None and recovered is not None:
            manifest = recovered
        if manifest is not None and manifest.soft_bindings and watermark.detected:
            watermark.matches_manifest = any(b["value"] == watermark.payload for b in manifest.soft_bindings)
    report = VerificationReport(
        path=loaded.name,
        format=loaded.format,
        integrity=integrity(manifest),
        ai_generated=None,
        c2pa=manifest,
        xmp=read_xmp_disclosure(loaded.xmp),
        exif=read_exif_disclosure(loaded.exif),
        watermark=watermark,
        image_error=loaded.repaired,
    )
    report.ai_generated, report.evidence = ai_verdict(report)
    return report


def _embedded_manifest(
    loaded: LoadedImage, data: bytes | None, options: VerifyOptions, sidecar: bytes | None
) -> ManifestSummary | None:
    mime = C2PA_MIME_TYPES.get(loaded.format)
    if mime is None or data is None:
        return None
    return read_manifest(
        data,
        mime,
        trust_pems=options.trust_pems,
        manifest_store=sidecar,
        source="sidecar" if sidecar is not None else "embedded",
        fetch_remote=options.fetch_remote,
    )


def _watermark(
    loaded: LoadedImage, options: VerifyOptions, embedded: ManifestSummary | None
) -> tuple[WatermarkReport, ManifestSummary | None]:
    """The watermark report, and the manifest its payload recovers from the store.

    With an ``embedded`` manifest (the one reported) the store entry is only looked up, not
    validated again; when that manifest's hard binding holds and names the payload as its soft
    binding, these bytes are the signed ones and the content needs no fingerprint search.
    """
    from provmark.watermark.marking import decode_watermark  # the neural decoder: only when a key is given

    assert options.watermark_key is not None
    store = options.store
    try:
        result = decode_watermark(loaded.image, options.watermark_key)
    except WatermarkError as exc:  # the image cannot carry a mark: report, do not fail the file
        return WatermarkReport(detected=False, error=str(exc)), None
    payload = result.payload if result.detected else None
    report = WatermarkReport(
        detected=bool(result.detected), payload=payload.hex() if payload else None, p_value=float(result.p_value)
    )
    recovered = None
    if payload and store is not None:
        store_bytes = store.get(payload)
        if store_bytes is not None:
            if embedded is None:
                recovered = _stored_manifest(loaded, payload, store_bytes, options)
            report.manifest_recovered = embedded is not None or recovered is not None
            if embedded is not None and _hard_bound(embedded, report.payload):
                report.content = CONTENT_MATCH
            else:
                check_content(report, store, payload, loaded)
    return report, recovered


def _hard_bound(manifest: ManifestSummary, payload: str | None) -> bool:
    """Whether ``manifest`` signs these very bytes (its bindings hold) and carries ``payload`` as its soft binding."""
    return integrity(manifest) == INTACT and any(b["value"] == payload for b in manifest.soft_bindings or [])


def _stored_manifest(loaded: LoadedImage, payload: bytes, store_bytes: bytes, options: VerifyOptions) -> ManifestSummary | None:
    """The store entry under ``payload``, validated (or taken from ``options.recovered``)."""
    known = options.recovered.get(payload) if options.recovered is not None else None
    if known is not None:
        return copy.deepcopy(known)
    recovered = read_manifest(store_bytes, "application/c2pa", trust_pems=options.trust_pems, source="soft-binding")
    if recovered is not None and not recovered.validated:
        raise InputImageError(f"{loaded.name}: manifest store entry {payload.hex()}: {recovered.problem_detail}")
    if recovered is not None and options.recovered is not None:
        options.recovered[payload] = copy.deepcopy(recovered)
    return recovered


def check_content(report: WatermarkReport, store: ManifestStore, payload: bytes, loaded: LoadedImage) -> None:
    """Compare the image with the fingerprint of the signed pixels kept in the store."""
    try:
        fingerprint = store.fingerprint(payload)
    except VerificationError:
        fingerprint = None
    if fingerprint is None:
        report.content = CONTENT_UNCHECKED
        return
    check = fingerprint.compare(loaded.image)
    report.content = CONTENT_MATCH if check.matches else CONTENT_DIFFERS
    report.content_distance, report.content_threshold = check.distance, check.threshold
