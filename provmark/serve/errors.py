"""JSON errors of the service: ``{"error": {"code": ..., "message": ...}}`` with an HTTP status."""

from __future__ import annotations

from starlette.responses import JSONResponse

from provmark.errors import InputImageError, ProvmarkError


class ApiError(Exception):
    """An error answered to the client as it is (the message says what to do)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers

    def response(self) -> JSONResponse:
        """The JSON response for this error (with ``headers``, e.g. ``Retry-After``)."""
        body = {"error": {"code": self.code, "message": self.message}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def from_provmark(exc: ProvmarkError) -> ApiError:
    """Map a library error about an upload to a client error (messages name no server paths)."""
    message = str(exc).replace("<bytes>: ", "")
    if isinstance(exc, InputImageError):
        if "too large" in message:
            return ApiError(413, "image_too_large", message)
        if "not an image" in message or "unsupported image format" in message:
            return ApiError(415, "not_an_image", message)
        return ApiError(422, "corrupt_image", message)
    return ApiError(422, "unprocessable", message)
