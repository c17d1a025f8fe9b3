"""C2PA signing with disclosure metadata, keys, and manifest reading (wraps c2pa-python)."""

from provmark.c2pa.identity import SigningIdentity, callback_identity, identity_from_keys_dir, load_identity
from provmark.c2pa.options import Disclosure, SignOptions, Watermarking
from provmark.c2pa.pipeline import SignedImage, sign_image
from provmark.c2pa.pki import KeyPaths, init_keys
from provmark.c2pa.reader import ManifestSummary, read_manifest
from provmark.c2pa.store import ManifestStore

__all__ = [
    "Disclosure",
    "KeyPaths",
    "ManifestStore",
    "ManifestSummary",
    "SignOptions",
    "SignedImage",
    "SigningIdentity",
    "Watermarking",
    "callback_identity",
    "identity_from_keys_dir",
    "init_keys",
    "load_identity",
    "read_manifest",
    "sign_image",
]
