"""Reading and writing image files safely."""

from provmark.io.atomic import atomic_write, prepare_out_dir, write_bytes_atomic
from provmark.io.encode import check_single_frame, encode_like
from provmark.io.images import LoadedImage, estimate_jpeg_quality, load_image

__all__ = [
    "LoadedImage",
    "atomic_write",
    "check_single_frame",
    "prepare_out_dir",
    "encode_like",
    "write_bytes_atomic",
    "estimate_jpeg_quality",
    "load_image",
]
