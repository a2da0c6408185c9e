"""Payload codec: protobuf messages as protobuf, ``bytes`` as-is, the rest as msgpack.

Protobuf is actr's native payload and travels without any marker, so an
upstream peer reads it unchanged; raw bytes travel unmarked too. Msgpack is
labelled with a ``content-type`` metadata entry, which lets a receiver that
declared no type still hand the handler the right Python value: unmarked
bytes reach such a handler as ``bytes``, marked ones as the decoded value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgpack
from google.protobuf.message import DecodeError, Message

from ..errors import BadRequest, LocalError

__all__ = ["ContentType", "EncodeError", "decode_payload", "encode_payload"]


class ContentType(StrEnum):
    PROTOBUF = "application/x-protobuf"
    MSGPACK = "application/msgpack"
    RAW = "application/octet-stream"


class EncodeError(LocalError, TypeError):
    """A value that none of the payload codecs can carry."""


_packb = msgpack.Packer(use_bin_type=True, autoreset=True).pack


def encode_payload(value: Any) -> tuple[bytes, ContentType]:
    """Encode ``value`` for the wire; the content type says how."""
    if isinstance(value, Message):
        return value.SerializeToString(), ContentType.PROTOBUF
    if isinstance(value, bytes):
        return value, ContentType.RAW
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value), ContentType.RAW
    try:
        return _packb(value), ContentType.MSGPACK
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(
            f"cannot encode a {type(value).__name__} payload: use a protobuf message, "
            f"bytes, or msgpack-able values ({exc})"
        ) from None


def decode_payload(data: bytes, content_type: str | None, expected: type | None) -> Any:
    """Decode into ``expected`` when the handler declared one, else by content type.

    Raises :class:`BadRequest` (400) when the bytes do not fit.
    """
    if expected is not None:
        if isinstance(expected, type) and issubclass(expected, Message):
            msg = expected()
            try:
                msg.ParseFromString(data)
            except DecodeError as exc:
                raise BadRequest(
                    f"payload is not a valid {expected.DESCRIPTOR.full_name}: {exc}"
                ) from None
            return msg
        if expected is bytes:
            return data
    if content_type == ContentType.MSGPACK:
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=False)
        except Exception as exc:  # msgpack raises several unrelated types
            raise BadRequest(f"payload is not valid msgpack: {exc}") from None
    return data
