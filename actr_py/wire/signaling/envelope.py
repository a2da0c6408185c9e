"""Building and reading ``SignalingEnvelope`` s; shared by the server and the client."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from ...errors import ActrError, ProtocolError, RemoteError, error_for_code
from ...proto import actr_pb2, signaling_pb2

__all__ = [
    "ENVELOPE_VERSION",
    "decode_envelope",
    "error_from_reply",
    "make_envelope",
    "new_envelope_id",
    "set_timestamp",
    "timestamp_seconds",
]

ENVELOPE_VERSION = 1

_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)


def new_envelope_id() -> str:
    """Unique per process run and cheap: a random prefix plus a counter."""
    return f"{_PREFIX}-{next(_COUNTER):x}"


def set_timestamp(env: signaling_pb2.SignalingEnvelope, now: float | None = None) -> None:
    now = time.time() if now is None else now
    secs = int(now)
    env.timestamp.seconds = secs
    env.timestamp.nanos = int((now - secs) * 1e9)


def timestamp_seconds(env: signaling_pb2.SignalingEnvelope) -> float | None:
    if not env.HasField("timestamp"):
        return None
    return env.timestamp.seconds + env.timestamp.nanos / 1e9


def make_envelope(
    *,
    reply_for: str | None = None,
    envelope_id: str | None = None,
    now: float | None = None,
    **flow: Any,
) -> signaling_pb2.SignalingEnvelope:
    """An envelope with a fresh id and timestamp; ``flow`` is one oneof member."""
    env = signaling_pb2.SignalingEnvelope(
        envelope_version=ENVELOPE_VERSION,
        envelope_id=envelope_id or new_envelope_id(),
        **flow,
    )
    if reply_for:
        env.reply_for = reply_for
    set_timestamp(env, now)
    return env


def decode_envelope(data: bytes) -> signaling_pb2.SignalingEnvelope:
    """Parse one frame; :class:`ProtocolError` (400) if undecodable or incomplete.

    The upb backend does not enforce proto2 ``required`` on parse, so this does.
    """
    env = signaling_pb2.SignalingEnvelope()
    try:
        env.ParseFromString(data)
    except (DecodeError, ValueError) as exc:
        raise ProtocolError(f"undecodable envelope: {exc}") from None
    if not env.IsInitialized():
        missing = ", ".join(env.FindInitializationErrors()[:5])
        raise ProtocolError(f"envelope misses required fields: {missing}")
    # Invalid UTF-8 needs a byte >= 0x80; most replies have none, so skip the walk.
    if not data.isascii():
        bad = _invalid_utf8_field(env)
        if bad is not None:
            raise ProtocolError(f"envelope field {bad} is not valid UTF-8")
    if env.envelope_version != ENVELOPE_VERSION:
        raise ProtocolError(f"unsupported envelope_version {env.envelope_version}")
    if env.WhichOneof("flow") is None:
        raise ProtocolError("envelope carries no flow")
    return env


_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE


def _invalid_utf8_field(msg: Message) -> str | None:
    """The first string field holding invalid UTF-8, if any.

    proto2 does not validate UTF-8 on parse: upb hands such a field back as
    ``bytes``, which would break every consumer expecting ``str``. Checking
    once here keeps that out of the server and the client.
    """
    for field, value in msg.ListFields():
        if field.type == _STRING:
            values = value if field.is_repeated else (value,)
            if any(isinstance(v, bytes) for v in values):
                return field.full_name
        elif field.type == _MESSAGE:
            for sub in value if field.is_repeated else (value,):
                bad = _invalid_utf8_field(sub)
                if bad is not None:
                    return bad
    return None


def _typed_error(msg: Any) -> actr_pb2.ErrorResponse | None:
    """The ``error`` member of a response's ``result`` oneof, if that is what it holds."""
    descriptor = msg.DESCRIPTOR
    if "result" in descriptor.oneofs_by_name and msg.WhichOneof("result") == "error":
        return msg.error
    return None


def error_from_reply(env: signaling_pb2.SignalingEnvelope) -> ActrError | None:
    """The typed error an envelope reports (envelope, server_to_actr or response level)."""
    err: actr_pb2.ErrorResponse | None = None
    flow = env.WhichOneof("flow")
    if flow == "envelope_error":
        err = env.envelope_error
    elif flow == "server_to_actr":
        payload = env.server_to_actr.WhichOneof("payload")
        if payload == "error":
            err = env.server_to_actr.error
        elif payload is not None:
            err = _typed_error(getattr(env.server_to_actr, payload))
    if err is None:
        return None
    exc: RemoteError = error_for_code(err.code, err.message)
    return exc
