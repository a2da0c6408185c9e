"""Errors of the virtual-actor layer, as subclasses of the actr tree.

Two kinds reach a client:

* :class:`UserError` - raised on purpose by actor code. It travels in-band
  (not as an actr ``ErrorResponse``, which carries only a code and a message),
  so its ``kind``, ``message``, ``metadata`` and status ``code`` arrive intact.
* everything else an action raises becomes :class:`ActorInternalError`: the
  client sees only "internal error" and a reference; the traceback stays in the
  hosting node's log, so internals never leak.
"""

from __future__ import annotations

from typing import Any

from ..errors import (
    BadRequest,
    Conflict,
    DeadlineExceeded,
    InternalError,
    NotFound,
    RemoteError,
    Unavailable,
)

__all__ = [
    "ActionNotFound",
    "ActorExists",
    "ActorInternalError",
    "ActorNotFound",
    "ActorTimeout",
    "ActorUnavailable",
    "BadArguments",
    "InvalidKey",
    "UserError",
]


class UserError(RemoteError):
    """An error meant for the caller: ``kind`` names it, ``metadata`` details it.

    ``code`` is the actr status (4xx, 400 by default). ``metadata`` must be
    msgpack-serialisable; it reaches the client unchanged.
    """

    def __init__(
        self, kind: str, message: str = "", metadata: Any = None, *, code: int = 400
    ) -> None:
        if not 400 <= code <= 499:
            raise ValueError(f"UserError code must be a 4xx status, got {code}")
        super().__init__(message or kind, code=code)
        self.kind = kind
        self.metadata = metadata

    def __repr__(self) -> str:
        return (
            f"UserError(kind={self.kind!r}, code={self.code}, message={self.message!r}, "
            f"metadata={self.metadata!r})"
        )


class InvalidKey(BadRequest):
    """An actor key that is neither a string nor a tuple/list of strings."""


class BadArguments(BadRequest):
    """The arguments do not fit the action's signature."""


class ActorNotFound(NotFound):
    """No actor with this name and key (``get``, ``get_for_id``) or no such actor type."""


class ActionNotFound(NotFound):
    """The actor type has no action of that name."""


class ActorExists(Conflict):
    """``create`` of a key that already has an actor."""


class ActorInternalError(InternalError):
    """An action or hook failed unexpectedly; details are in the host's log under ``ref``."""

    def __init__(self, message: str = "internal error", *, ref: str = "") -> None:
        super().__init__(f"{message} (ref {ref})" if ref else message)
        self.ref = ref


class ActorUnavailable(Unavailable):
    """The actor cannot be reached now (its host is stopping or offline): retry later."""


class ActorTimeout(DeadlineExceeded):
    """An action or a lifecycle hook ran past its timeout."""
