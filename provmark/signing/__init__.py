"""Signing orchestration: caption, watermark, disclosure metadata, C2PA manifest, manifest store."""

from provmark.signing.image import SignedImage, sign_image
from provmark.signing.options import SignOptions, Watermarking

__all__ = ["SignOptions", "SignedImage", "Watermarking", "sign_image"]
