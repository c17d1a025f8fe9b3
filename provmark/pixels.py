"""Front-door calls on pixels: the watermark and concept marks, in one call each.

They take any :data:`~provmark.io.images.ImageInput` (PIL image, numpy array, file bytes,
path), keys and registries as objects or paths, and are exported by :mod:`provmark.api`
(``sign``/``Signer`` and ``verify``/``Verifier`` live beside the code they drive)::

    import provmark

    marked = provmark.embed(image, "0123456789abcdef", "keys")
    provmark.decode(marked, "keys").payload.hex()               # '0123456789abcdef'
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator, Sequence

from PIL import Image

from provmark.concepts.marker import mark_concepts
from provmark.concepts.registry import Registry
from provmark.detect.attribution import AttributionReport, attribute_image
from provmark.errors import OutputError, WatermarkError
from provmark.io import check_single_frame, encode_like, write_bytes_atomic
from provmark.io.images import ImageInput, load_image
from provmark.keys import Keys, load_watermark_key
from provmark.watermark.codec import PAYLOAD_BYTES
from provmark.watermark.concept_channel import DEFAULT_GRID
from provmark.watermark.decision import DecodeResult
from provmark.watermark.marking import decode_watermark, embed_watermark_with_strength

KeyInput = bytes | Keys | str | os.PathLike
RegistryInput = Registry | str | os.PathLike

#: Key of the strength :func:`embed` applied, in the returned image's ``info``.
STRENGTH_INFO = "provmark_strength"


def embed(
    image: ImageInput,
    payload: bytes | str,
    key: KeyInput,
    *,
    strength: float = 1.0,
    adaptive: bool = True,
    model: str = "default",
) -> Image.Image:
    """A copy of ``image`` carrying an 8-byte ``payload`` (bytes or 16 hex digits) under ``key``.

    ``key`` is the key's bytes, a keys folder, a ``watermark.key`` file or :class:`Keys`. Size,
    aspect ratio and mode are kept; ``marked.info["provmark_strength"]`` is the strength applied
    (``strength`` times the per-image closed-loop strength unless ``adaptive=False``).

    >>> marked = embed(image, "0123456789abcdef", "keys")  # doctest: +SKIP
    """
    data = parse_payload(payload)
    marked, applied = embed_watermark_with_strength(
        load_image(image).image, data, load_watermark_key(key), strength=strength, adaptive=adaptive, model=model
    )
    marked.info[STRENGTH_INFO] = applied
    return marked


def embed_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    payload: bytes | str,
    key: KeyInput,
    *,
    strength: float = 1.0,
    adaptive: bool = True,
    quality: int | None = None,
) -> float:
    """Write ``source`` with ``payload`` embedded to ``target``, in its format and with its metadata.

    JPEG and WebP keep the source's quality unless ``quality`` is given. Animations, multi-page
    files and GIFs (whose palette erases the mark) are refused; ``target`` is written atomically
    and ``source`` never. Returns the strength applied (see :func:`embed`).

    >>> embed_file("photo.jpg", "out/photo.jpg", "0123456789abcdef", "keys")  # doctest: +SKIP
    1.18
    """
    loaded = load_image(source)
    check_single_frame(loaded)
    if loaded.format == "GIF":
        raise OutputError(f"{source}: GIF re-quantises colours to a palette, which erases the mark; convert to PNG first")
    marked = embed(loaded.image, payload, key, strength=strength, adaptive=adaptive)
    write_bytes_atomic(target, encode_like(marked, loaded, quality=quality))
    return float(marked.info[STRENGTH_INFO])


def decode(image: ImageInput, key: KeyInput, *, model: str = "default") -> DecodeResult:
    """Read the watermark ``key`` put into ``image``: ``detected``, ``payload``, ``p_value``.

    >>> decode(marked, "keys").payload.hex()  # doctest: +SKIP
    '0123456789abcdef'
    """
    return decode_watermark(load_image(image).image, load_watermark_key(key), model=model)


def mark_image(
    image: ImageInput,
    registry: RegistryInput,
    concept: str | Sequence[str],
    *,
    layout: str = "auto",
    strength: float = 1.0,
    channel: float | None = None,
    channel_grid: int = DEFAULT_GRID,
    training_mark: float | None = None,
) -> Image.Image:
    """A copy of ``image`` marked with a registered concept (or one per region, for several).

    ``channel`` adds the concept channel at that many 8-bit levels (for training copies), and
    ``training_mark`` the invisible training mark at that level (e.g. 2.0). Each region's neural
    mark gets one of the registry's keyed variants at random. In memory nothing is recorded in the
    registry (``provmark mark`` records catalog files and their variants).

    >>> marked = mark_image(photo, "catalog.db", "red-fox")  # doctest: +SKIP
    """
    names = [concept] if isinstance(concept, str) else list(concept)
    with _opened(registry) as reg:
        payloads = [reg.payload(reg.require(name)) for name in names]
        marked, _, _ = mark_concepts(
            load_image(image).image, payloads, reg.watermark_key, layout=layout, strength=strength,
            channel=channel, channel_grid=channel_grid, training_mark=training_mark,
            variants=[secrets.randbelow(reg.variants) for _ in payloads],
        )  # fmt: skip
    return marked


def attribute(
    image: ImageInput, registry: RegistryInput, *, channel_grid: int | None = None, training_mark: bool = False
) -> AttributionReport:
    """Which of the registry's concepts ``image`` carries, most likely first, with p-values.

    With ``channel_grid`` the concept channel is read too (e.g. in a generator's output), with
    ``training_mark`` the training mark (region "training-mark"; one image alone never reaches
    the 1e-6 bound with it, ``audit`` adds samples up). These whole-image marks share half of
    the budget; the neural marks of the regions, the other half.

    >>> [hit.name for hit in attribute(marked, "catalog.db").concepts]  # doctest: +SKIP
    ['red-fox']
    """
    loaded = load_image(image)
    with _opened(registry) as reg:
        hits, tried = attribute_image(loaded.image, reg, channel_grid=channel_grid, training_mark=training_mark)
    return AttributionReport(loaded.name, hits, tried)


def parse_payload(payload: bytes | str) -> bytes:
    """The 8 payload bytes of ``payload`` (bytes, or 16 hex digits with an optional ``0x``).

    >>> parse_payload("0x0123456789ABCDEF").hex()
    '0123456789abcdef'
    """
    if isinstance(payload, str):
        try:
            payload = bytes.fromhex(payload.strip().lower().removeprefix("0x"))
        except ValueError:
            raise WatermarkError(f"payload {payload!r} is not hexadecimal") from None
    if len(payload) != PAYLOAD_BYTES:
        raise WatermarkError(f"a watermark payload has {PAYLOAD_BYTES} bytes ({2 * PAYLOAD_BYTES} hex digits), got {len(payload)}")
    return bytes(payload)


@contextlib.contextmanager
def _opened(registry: RegistryInput) -> Iterator[Registry]:
    """``registry`` itself, or the registry at that path, opened for the call and closed after."""
    if isinstance(registry, Registry):
        yield registry
        return
    with Registry.open(registry) as reg:
        yield reg
