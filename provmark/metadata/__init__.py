"""Disclosure metadata: what a signer states, written as XMP and EXIF, read back by verifiers."""

from provmark.metadata.disclosure import Disclosure

__all__ = ["Disclosure"]
