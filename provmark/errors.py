"""Exception classes. Every message is one line a user can act on."""


class ProvmarkError(Exception):
    """Base class of all errors provmark raises on purpose."""


class InputImageError(ProvmarkError):
    """An input file is missing, not an image, truncated, too large or of an unsupported kind."""


class OutputError(ProvmarkError):
    """An output could not be written (unwritable folder, would overwrite an input, disk full)."""


class KeyMaterialError(ProvmarkError):
    """Keys or certificates are missing, unreadable, mismatched or wrongly protected."""


class SigningError(ProvmarkError):
    """A C2PA manifest could not be built or signed."""


class VerificationError(ProvmarkError):
    """A C2PA manifest or metadata block could not be read for verification."""


class WatermarkError(ProvmarkError):
    """A watermark could not be embedded or decoded (bad payload, bad key, image too small)."""


class ModelError(ProvmarkError):
    """A model could not be found, loaded or trained."""


class RegistryError(ProvmarkError):
    """A concept registry is missing, corrupt, or asked for an unknown concept."""


class ClusterError(ProvmarkError):
    """A Ray cluster could not be used (Ray not installed, cluster unreachable)."""
