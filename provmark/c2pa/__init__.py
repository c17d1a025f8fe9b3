"""C2PA through c2pa-python: signing identities, manifests, signing, reading, and the manifest store."""

from provmark.c2pa.identity import SigningIdentity, callback_identity, load_identity
from provmark.c2pa.reader import ManifestSummary, read_manifest
from provmark.c2pa.store import ManifestStore

__all__ = ["ManifestStore", "ManifestSummary", "SigningIdentity", "callback_identity", "load_identity", "read_manifest"]
