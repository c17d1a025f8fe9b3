"""Reading and writing image files safely."""

from provmark.io.atomic import atomic_write
from provmark.io.images import LoadedImage, estimate_jpeg_quality, load_image

__all__ = ["LoadedImage", "atomic_write", "estimate_jpeg_quality", "load_image"]
