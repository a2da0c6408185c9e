"""msgpack for state, queue bodies and the in-band result of an action.

An action's answer travels as ``[0, value]`` or, for a :class:`UserError`,
``[1, kind, message, metadata, code]``: an actr ``ErrorResponse`` has no room
for metadata. Other failures travel as ordinary actr errors (code + message).
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import UserError

__all__ = ["StateEncodeError", "error_result", "ok_result", "pack", "unpack", "unwrap_result"]


class StateEncodeError(TypeError):
    """A value (state, queue body, argument) that msgpack cannot carry."""


_packer = msgpack.Packer(use_bin_type=True, autoreset=True)


def pack(value: Any) -> bytes:
    try:
        return _packer.pack(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise StateEncodeError(
            f"cannot serialise a {type(value).__name__}: actor data must be msgpack-able "
            f"(dict, list, str, bytes, int, float, bool, None): {exc}"
        ) from None


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def ok_result(value: Any) -> list[Any]:
    return [0, value]


def error_result(exc: UserError) -> list[Any]:
    return [1, exc.kind, exc.message, exc.metadata, exc.code]


def unwrap_result(result: Any) -> Any:
    """The value of an in-band result, or raise the UserError it carries."""
    if isinstance(result, list) and result:
        if result[0] == 0 and len(result) == 2:
            return result[1]
        if result[0] == 1 and len(result) == 5:
            _, kind, message, metadata, code = result
            raise UserError(kind, message, metadata, code=code)
    raise TypeError(f"malformed action result: {type(result).__name__}")
