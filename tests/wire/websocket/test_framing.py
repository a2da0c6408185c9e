"""Pure tests of the lane's byte format, batching, hello codec and options."""

from __future__ import annotations

import struct

import pytest

from actr_py.errors import (
    ActrError,
    ConfigError,
    Conflict,
    Forbidden,
    PayloadTooLarge,
    ProtocolError,
    Unauthorized,
    Unavailable,
)
from actr_py.payload_type import PayloadType
from actr_py.proto import actr_pb2, package_pb2
from actr_py.wire.websocket import (
    HEADER_SIZE,
    FrameBatcher,
    WebSocketOptions,
    close_code_for,
    decode_frames,
    decode_hello,
    encode_frame,
    encode_hello,
    error_for_close,
)
from actr_py.wire.websocket.handshake import close_reason

from ._support import actor

MAX = 1024


def test_header_layout_is_type_byte_then_big_endian_length() -> None:
    frame = encode_frame(PayloadType.STREAM_RELIABLE, b"abc")
    assert frame == b"\x02\x00\x00\x00\x03abc"
    assert HEADER_SIZE == 5


@pytest.mark.parametrize("payload_type", list(PayloadType))
@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)) * 4])
def test_round_trip_each_type(payload_type: PayloadType, data: bytes) -> None:
    frames = decode_frames(encode_frame(payload_type, data), max_frame_size=MAX)
    assert frames == [(payload_type, data)]
    assert type(frames[0][0]) is PayloadType
    assert type(frames[0][1]) is bytes


def test_several_frames_in_one_message_keep_order_and_types() -> None:
    parts = [(PayloadType(i % len(PayloadType)), bytes([i]) * i) for i in range(40)]
    message = b"".join(encode_frame(t, d) for t, d in parts)
    assert decode_frames(message, max_frame_size=MAX) == parts


def test_frame_exactly_at_the_limit_is_accepted() -> None:
    data = b"z" * MAX
    assert decode_frames(encode_frame(PayloadType.RPC_RELIABLE, data), MAX) == [
        (PayloadType.RPC_RELIABLE, data)
    ]


def _expect(error: type[ActrError], code: int, message: bytes) -> ActrError:
    with pytest.raises(error) as info:
        decode_frames(message, max_frame_size=MAX)
    assert info.value.code == code
    return info.value


def test_empty_message_is_a_protocol_error() -> None:
    _expect(ProtocolError, 400, b"")


@pytest.mark.parametrize("cut", [1, 2, 4])
def test_truncated_header_is_a_protocol_error(cut: int) -> None:
    err = _expect(ProtocolError, 400, encode_frame(PayloadType.RPC_RELIABLE, b"abc")[:cut])
    assert "header" in err.message


def test_truncated_body_is_a_protocol_error() -> None:
    err = _expect(ProtocolError, 400, encode_frame(PayloadType.RPC_SIGNAL, b"abcdef")[:-1])
    assert "truncated" in err.message


def test_trailing_partial_frame_after_a_good_one_rejects_the_whole_message() -> None:
    message = encode_frame(PayloadType.RPC_RELIABLE, b"good") + b"\x00\x00"
    _expect(ProtocolError, 400, message)


@pytest.mark.parametrize("kind", [len(PayloadType), 7, 255])
def test_unknown_payload_type_is_a_protocol_error(kind: int) -> None:
    err = _expect(ProtocolError, 400, struct.pack(">BI", kind, 1) + b"x")
    assert str(kind) in err.message


def test_unknown_type_in_a_later_frame_is_found() -> None:
    message = encode_frame(PayloadType.RPC_RELIABLE, b"ok") + struct.pack(">BI", 9, 0)
    err = _expect(ProtocolError, 400, message)
    assert "offset 7" in err.message


def test_length_over_limit_is_payload_too_large_even_before_the_bytes_arrive() -> None:
    # Only the header: the declared length alone must be refused (413, not 400).
    err = _expect(PayloadTooLarge, 413, struct.pack(">BI", 0, MAX + 1))
    assert str(MAX) in err.message
    _expect(PayloadTooLarge, 413, encode_frame(PayloadType.RPC_RELIABLE, b"x" * (MAX + 1)))


def test_batcher_packs_queued_frames_into_one_message() -> None:
    batcher = FrameBatcher(coalesce_limit=4096)
    sent = [(PayloadType.RPC_RELIABLE, b"a" * 10), (PayloadType.RPC_SIGNAL, b""), (
        PayloadType.STREAM_LATENCY_FIRST, b"c" * 100)]
    for t, d in sent:
        batcher.push(t, d)
    assert len(batcher) == 1
    assert batcher.pending_bytes == sum(HEADER_SIZE + len(d) for _, d in sent)
    message = batcher.pop()
    assert message is not None
    assert decode_frames(bytes(message), MAX) == sent
    assert batcher.pop() is None
    assert batcher.pending_bytes == 0


def test_batcher_starts_a_new_message_at_the_coalesce_limit() -> None:
    batcher = FrameBatcher(coalesce_limit=100)
    for i in range(10):
        batcher.push(PayloadType.RPC_RELIABLE, bytes([i]) * 20)  # 25 bytes per frame
    messages = []
    while (m := batcher.pop()) is not None:
        messages.append(bytes(m))
    assert [len(m) for m in messages] == [100, 100, 50]
    flat = [d for m in messages for _, d in decode_frames(m, MAX)]
    assert flat == [bytes([i]) * 20 for i in range(10)]


def test_batcher_sends_a_frame_larger_than_the_limit_alone() -> None:
    batcher = FrameBatcher(coalesce_limit=100)
    batcher.push(PayloadType.RPC_RELIABLE, b"s")
    batcher.push(PayloadType.STREAM_RELIABLE, b"B" * 500)
    batcher.push(PayloadType.RPC_RELIABLE, b"t")
    sizes = []
    while (m := batcher.pop()) is not None:
        sizes.append(len(m))
    assert sizes == [6, 505, 6]


def test_popped_buffers_are_not_reused() -> None:
    batcher = FrameBatcher(coalesce_limit=100)
    batcher.push(PayloadType.RPC_RELIABLE, b"first")
    first = batcher.pop()
    snapshot = bytes(first or b"")
    batcher.push(PayloadType.RPC_RELIABLE, b"second")
    assert first == snapshot


def test_hello_round_trip() -> None:
    me = actor(0x1A2B)
    cred = actr_pb2.AIdCredential(encrypted_token=b"\x01\x02", token_key_id=9)
    hello = decode_hello(encode_hello(me, cred))
    assert hello.actr_id == me.to_proto()
    assert hello.credential == cred


def test_garbage_hello_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_hello(b"\xff\xff\xff\xff")
    assert info.value.code == 400


def test_hello_missing_required_fields_is_a_protocol_error() -> None:
    partial = package_pb2.LaneHello()
    partial.actr_id.CopyFrom(actor(1).to_proto())
    raw = partial.SerializePartialToString()
    with pytest.raises(ProtocolError) as info:
        decode_hello(raw)
    assert "credential" in info.value.message


@pytest.mark.parametrize(
    ("error", "code"),
    [(Unauthorized("no"), 4401), (Forbidden("no"), 4403), (Conflict("tie"), 4409),
     (ProtocolError("bad"), 4400), (PayloadTooLarge("big"), 4413), (Unavailable("x"), 4503)],
)
def test_close_codes_carry_actr_codes_both_ways(error: ActrError, code: int) -> None:
    assert close_code_for(error) == code
    back = error_for_close(code, "why")
    assert back.code == error.code
    assert back.message == "why"


def test_non_application_close_during_handshake_is_unavailable() -> None:
    err = error_for_close(1000, "")
    assert isinstance(err, Unavailable)
    assert err.code == 503


def test_close_reason_fits_a_close_frame_and_stays_utf8() -> None:
    reason = close_reason("é" * 200)
    assert len(reason) <= 123
    reason.decode("utf-8")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_frame_size": 0},
        {"max_frame_size": 2**32},
        {"coalesce_limit": 5},
        {"max_frame_size": 1000, "coalesce_limit": 2000},
        {"max_pending_bytes": 0},
        {"heartbeat_interval": 0},
        {"heartbeat_interval": 2.0, "dead_peer_timeout": 1.0},
        {"hello_timeout": -1},
    ],
)
def test_bad_options_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        WebSocketOptions(**kwargs)  # type: ignore[arg-type]


def test_max_message_size_admits_one_full_frame() -> None:
    opts = WebSocketOptions(max_frame_size=1000, coalesce_limit=500)
    assert opts.max_message_size == 1000 + HEADER_SIZE
