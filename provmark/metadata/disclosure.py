"""What a signer states about an image: generator, source type, creator, training terms."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from provmark import __version__
from provmark.errors import SigningError
from provmark.metadata.vocab import SOURCE_TYPES, TRAINING_MINING

_VERSION_RE = re.compile(r"^v?\d[\w.+-]*$")

#: Source types used when none is given: for new content, and for an edit of signed content.
NEW_CONTENT_SOURCE_TYPE = "trainedAlgorithmicMedia"
EDIT_SOURCE_TYPE = "compositeWithTrainedAlgorithmicMedia"
#: Who a creator is (the CAWG metadata assertion records it as a schema.org Person or Organization).
CREATOR_TYPES = ("person", "organization")


@dataclass(frozen=True)
class Disclosure:
    """The disclosure written into XMP, EXIF and the C2PA manifest.

    ``generator`` is "name version" of the generating system (e.g. "Flux 1.1");
    ``source_type`` is an IPTC digital source type term; left out, it is trainedAlgorithmicMedia
    for new content and compositeWithTrainedAlgorithmicMedia for an edit of an image that
    already has a manifest (see :meth:`resolved`). ``creator_type`` is person or organization.
    ``training_mining`` is one of allowed / notAllowed / constrained.
    """

    generator: str = f"provmark {__version__}"
    source_type: str | None = None
    creator: str | None = None
    creator_type: str = "person"
    training_mining: str = "notAllowed"
    constraint_info: str | None = None
    title: str | None = None
    prompt: str | None = None

    def __post_init__(self) -> None:
        if self.source_type is not None and self.source_type not in SOURCE_TYPES:
            raise SigningError(f"unknown digital source type {self.source_type!r} (one of: {', '.join(SOURCE_TYPES)})")
        if self.training_mining not in TRAINING_MINING:
            raise SigningError(
                f"unknown training-mining choice {self.training_mining!r} (one of: {', '.join(TRAINING_MINING)})"
            )
        if not self.generator.strip():
            raise SigningError("the generator name must not be empty")
        if self.creator_type not in CREATOR_TYPES:
            raise SigningError(f"unknown creator type {self.creator_type!r} (one of: {', '.join(CREATOR_TYPES)})")

    @property
    def source_type_term(self) -> str:
        """The digital source type stated for new content."""
        return self.source_type or NEW_CONTENT_SOURCE_TYPE

    def resolved(self, edit: bool) -> Disclosure:
        """This disclosure with its source type made explicit, for new content or for an ``edit``.

        C2PA records an edit of existing content as ``c2pa.opened`` + ``c2pa.edited``; an
        AI-made change to content that came from elsewhere is a composite, not wholly generated.
        """
        if self.source_type is not None:
            return self
        return dataclasses.replace(self, source_type=EDIT_SOURCE_TYPE if edit else NEW_CONTENT_SOURCE_TYPE)

    @property
    def generator_name(self) -> str:
        """Name part of ``generator``."""
        return split_generator(self.generator)[0]

    @property
    def generator_version(self) -> str | None:
        """Version part of ``generator`` (None when it has none)."""
        return split_generator(self.generator)[1]


def split_generator(text: str) -> tuple[str, str | None]:
    """Split "name version" into (name, version); the version is the last word if it looks like one."""
    words = text.strip().split()
    if len(words) > 1 and _VERSION_RE.match(words[-1]):
        return " ".join(words[:-1]), words[-1]
    return text.strip(), None
