"""``Signer``: keys, disclosure and watermark model loaded once, then one call per image.

For generation pipelines::

    import provmark

    signer = provmark.Signer("keys", disclosure=provmark.Disclosure(generator="MyGen 2.1"))
    data = signer.sign(pil_image, prompt="a red fox in snow")   # signed PNG bytes
    open("fox.png", "wb").write(data)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from provmark.c2pa.identity import SigningIdentity
from provmark.c2pa.store import ManifestStore
from provmark.errors import KeyMaterialError
from provmark.io.images import ImageInput
from provmark.keys import Keys, load_keys, load_watermark_key
from provmark.metadata.disclosure import Disclosure
from provmark.models.hub import load_model
from provmark.signing.files import sign_file
from provmark.signing.image import SignedImage, sign_image
from provmark.signing.options import SignOptions, Watermarking


class Signer:
    """Signs images with one identity and disclosure, and (by default) an invisible watermark.

    ``keys`` is a keys folder (``provmark keys init``) or :class:`~provmark.keys.Keys`; it gives
    the signing identity (unless ``identity`` is passed, e.g. a KMS-backed
    :func:`~provmark.c2pa.callback_identity`), the watermark key and the manifest store (unless
    ``watermark_key`` / ``store`` are passed). ``watermark=False`` signs without a watermark.
    The remaining switches are those of :class:`~provmark.signing.options.SignOptions`.

    >>> signer = Signer("keys", disclosure=Disclosure(generator="MyGen 2.1"))  # doctest: +SKIP
    >>> data = signer.sign(pil_image, prompt="a red fox")  # doctest: +SKIP
    >>> signer.sign_file("photo.jpg", "signed")  # doctest: +SKIP
    [PosixPath('signed/photo.jpg')]
    """

    def __init__(
        self,
        keys: Keys | str | os.PathLike[str] | None = None,
        *,
        identity: SigningIdentity | None = None,
        password: str | bytes | None = None,
        disclosure: Disclosure | None = None,
        watermark: bool = True,
        watermark_key: bytes | str | os.PathLike[str] | None = None,
        store: str | os.PathLike[str] | None = None,
        strength: float = 1.0,
        thumbnail: bool = False,
        sidecar: bool = False,
        label: str | None = None,
        tsa_url: str | None = None,
    ) -> None:
        loaded = keys if isinstance(keys, Keys) or keys is None else load_keys(keys)
        if identity is None and loaded is None:
            raise KeyMaterialError("a Signer needs a keys folder or an identity")
        self.identity = identity if identity is not None else loaded.identity(password)  # type: ignore[union-attr]
        self.options = SignOptions(disclosure or Disclosure(), thumbnail, sidecar, label, tsa_url)
        self.watermarking: Watermarking | None = None
        if watermark and not sidecar:
            key = load_watermark_key(watermark_key) if watermark_key is not None else loaded and loaded.watermark_key
            if not key:
                raise KeyMaterialError("watermarking needs a watermark key (a keys folder or watermark_key=), or watermark=False")
            stored = ManifestStore(store) if store is not None else loaded.store if loaded else None
            self.watermarking = Watermarking(key=key, store=stored, strength=strength)
            load_model()  # once, here, rather than in the first sign()

    def sign_image(
        self,
        image: ImageInput,
        *,
        prompt: str | None = None,
        model: str | None = None,
        title: str | None = None,
        format: str | None = None,
    ) -> SignedImage:
        """Sign ``image`` and return the signed file with its manifest and watermark payload.

        ``prompt`` and ``model`` (the generator's "name version") override the disclosure's for
        this image. Pixels (PIL, numpy) are written as ``format`` (default PNG); file bytes and
        paths keep theirs, and an existing C2PA manifest becomes the parent ingredient.
        """
        options = self._options(prompt, model)
        if title is None:
            title = Path(image).name if isinstance(image, (str, os.PathLike)) else "image"
        return sign_image(image, self.identity, options, title=title, format=format, watermark=self.watermarking)

    def sign(
        self,
        image: ImageInput,
        *,
        prompt: str | None = None,
        model: str | None = None,
        title: str | None = None,
        format: str | None = None,
    ) -> bytes:
        """The signed file's bytes (see :meth:`sign_image`).

        >>> data = Signer("keys").sign(pil_image, prompt="a fox", model="MyGen 2.1")  # doctest: +SKIP
        """
        return self.sign_image(image, prompt=prompt, model=model, title=title, format=format).data

    def sign_file(
        self, path: str | os.PathLike[str], out_dir: str | os.PathLike[str], warn: Callable[[str], None] | None = None
    ) -> list[Path]:
        """Sign one file into ``out_dir`` under its own name (and ``NAME.c2pa`` for a sidecar);
        ``warn`` is told when the file's existing manifest (the new one's parent) did not validate."""
        return sign_file(path, out_dir, self.identity, self.options, self.watermarking, warn=warn)

    def _options(self, prompt: str | None, model: str | None) -> SignOptions:
        changes = {k: v for k, v in (("prompt", prompt), ("generator", model)) if v is not None}
        if not changes:
            return self.options
        return dataclasses.replace(self.options, disclosure=dataclasses.replace(self.options.disclosure, **changes))


def sign(
    image: ImageInput,
    keys: Keys | str | os.PathLike[str],
    *,
    prompt: str | None = None,
    model: str | None = None,
    disclosure: Disclosure | None = None,
    watermark: bool = True,
    format: str | None = None,
) -> bytes:
    """Sign one image with a keys folder: watermark, disclosure metadata, C2PA manifest -> file bytes.

    For many images, make one :class:`~provmark.signing.signer.Signer` and call its ``sign``.

    >>> data = sign(pil_image, "keys", prompt="a red fox", model="MyGen 2.1")  # doctest: +SKIP
    """
    signer = Signer(keys, disclosure=disclosure, watermark=watermark)
    return signer.sign(image, prompt=prompt, model=model, format=format)
