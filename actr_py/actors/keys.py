"""Actor keys and ids: canonical text forms, so one key has exactly one spelling.

A key is a string or a tuple (or list) of strings; ``"room"`` and ``("room",)``
are the same key. The canonical form joins the parts with ``/``, escaping
``\\`` and ``/`` inside parts and writing an empty part as ``\\0``, so distinct
keys never collide (``("a/b",)`` vs ``("a", "b")``). It is what storage,
placement and the wire use.

An actor id names one *incarnation* of ``(name, key)``: destroying and
creating the key again gives a new id, and ``get_for_id`` with the old one is
NotFound. The id embeds name and key, so it can be routed without a lookup.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from .errors import ActorNotFound, InvalidKey

__all__ = [
    "MODE_CREATE",
    "MODE_GET",
    "MODE_GET_OR_CREATE",
    "ActorKey",
    "decode_id",
    "decode_key",
    "encode_id",
    "encode_key",
    "new_nonce",
]

ActorKey = str | Sequence[str]

#: How a request may bring its actor into being: only an existing one, create it if
#: missing, or create it and fail (409) if it exists.
MODE_GET, MODE_GET_OR_CREATE, MODE_CREATE = 0, 1, 2

_MAX_KEY = 1024


def _escape(part: str) -> str:
    if not part:
        return "\\0"
    if "\\" in part or "/" in part:
        return part.replace("\\", "\\\\").replace("/", "\\/")
    return part


def encode_key(key: ActorKey) -> str:
    """The canonical text of ``key``; :class:`InvalidKey` for anything else."""
    if isinstance(key, str):
        text = _escape(key)
    elif isinstance(key, (tuple, list)):
        for part in key:
            if not isinstance(part, str):
                raise InvalidKey(f"key parts must be strings, got {type(part).__name__}")
        text = "/".join(_escape(p) for p in key)
    else:
        raise InvalidKey(f"an actor key is a str or a tuple of str, got {type(key).__name__}")
    if len(text) > _MAX_KEY:
        raise InvalidKey(f"actor key longer than {_MAX_KEY} characters")
    return text


def decode_key(text: str) -> tuple[str, ...]:
    """The parts of a canonical key (inverse of :func:`encode_key`)."""
    if not text:
        return ()
    parts: list[str] = []
    buf: list[str] = []
    it = iter(text)
    for ch in it:
        if ch == "\\":
            nxt = next(it, "")
            buf.append("" if nxt == "0" else nxt)
        elif ch == "/":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return tuple(parts)


def new_nonce() -> str:
    return os.urandom(6).hex()


def encode_id(name: str, key: str, nonce: str) -> str:
    """``<nonce>.<base64url(name \\0 key)>``: unique per incarnation, routable."""
    body = base64.urlsafe_b64encode(f"{name}\0{key}".encode()).rstrip(b"=").decode()
    return f"{nonce}.{body}"


def decode_id(actor_id: str) -> tuple[str, str, str]:
    """``(name, canonical key, nonce)`` of an id; ActorNotFound if it is not one."""
    nonce, sep, body = actor_id.partition(".")
    try:
        if not sep or not nonce:
            raise ValueError("no nonce")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        name, zero, key = raw.partition("\0")
        if not zero or not name:
            raise ValueError("no name")
    except (ValueError, UnicodeDecodeError):
        raise ActorNotFound(f"{actor_id[:80]!r} is not an actor id") from None
    return name, key, nonce
