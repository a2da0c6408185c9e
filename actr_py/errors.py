"""The actr exception tree.

Every error carries an HTTP-like actr ``code`` (the same numbers travel in
``ErrorResponse.code``), so a failure reads the same whether it happened here
or on a peer. Two branches tell whose fault it was, as in h11/websockets:

* :class:`LocalError` - this process misused the API or its configuration.
* :class:`RemoteError` - a peer answered with an error or broke the protocol.

Errors raised by :meth:`Context.call` are ``RemoteError`` subclasses chosen by
code, so ``except NotFound`` works whichever side produced the 404.
"""

from __future__ import annotations

__all__ = [
    "ActrError",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "DeadlineExceeded",
    "Forbidden",
    "InternalError",
    "InvalidId",
    "LocalError",
    "NotFound",
    "PayloadTooLarge",
    "ProtocolError",
    "RateLimited",
    "RemoteError",
    "StateError",
    "Unauthorized",
    "Unavailable",
    "error_for_code",
]


class ActrError(Exception):
    """Base of every actr error; ``code`` is the actr/HTTP-like status."""

    code: int = 500

    def __init__(self, message: str = "", *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def retryable(self) -> bool:
        """Whether trying the same operation later may succeed."""
        return self.code in (429, 503, 504)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


# ---- local misuse -----------------------------------------------------------


class LocalError(ActrError):
    """This process misused the API; nothing was sent."""

    code = 400


class ConfigError(LocalError, ValueError):
    """Invalid configuration: the message names the file, key and reason."""


class InvalidId(LocalError, ValueError):
    """A malformed actor id or type string."""


class StateError(LocalError, RuntimeError):
    """An operation that the object's lifecycle state does not allow."""

    code = 409


# ---- remote outcomes --------------------------------------------------------


class RemoteError(ActrError):
    """A peer (or the path to it) reported a failure for our request."""


class ProtocolError(RemoteError):
    """A peer sent bytes that break the actr protocol (undecodable, missing fields)."""

    code = 400


class BadRequest(RemoteError):
    code = 400


class Unauthorized(RemoteError):
    code = 401


class Forbidden(RemoteError):
    code = 403


class NotFound(RemoteError):
    code = 404


class Conflict(RemoteError):
    code = 409


class PayloadTooLarge(RemoteError):
    code = 413


class RateLimited(RemoteError):
    code = 429


class InternalError(RemoteError):
    code = 500


class Unavailable(RemoteError):
    """The target cannot take the message now (transport down, mailbox full): retry."""

    code = 503


class DeadlineExceeded(RemoteError):
    code = 504


_BY_CODE: dict[int, type[RemoteError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        RateLimited,
        InternalError,
        Unavailable,
        DeadlineExceeded,
    )
}


def error_for_code(code: int, message: str) -> RemoteError:
    """Build the ``RemoteError`` subclass that matches ``code``."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return RemoteError(message, code=code)
    return cls(message)
