"""actr-py/1 framing: pure encode/reassemble, no I/O."""

from __future__ import annotations

import random
import struct

import pytest

from actr_py.errors import PayloadTooLarge, ProtocolError
from actr_py.wire.webrtc.framing import (
    BATCH_ITEM_OVERHEAD,
    FRAGMENT_HEADER_SIZE,
    KIND_BATCH,
    KIND_FRAGMENT,
    FrameEncoder,
    Reassembler,
    encode_batch,
    is_raw,
    split_batch,
)

LIMIT = 64


def reassembler(**kw: object) -> Reassembler:
    kw.setdefault("max_message_size", 1 << 20)
    return Reassembler(**kw)  # type: ignore[arg-type]


def roundtrip(data: bytes, limit: int = LIMIT) -> tuple[list[bytes], bytes | None]:
    messages = list(FrameEncoder(limit).encode(data))
    r = reassembler(max_message_size=64 << 20)
    out = [r.feed(m) for m in messages]
    assert all(o is None for o in out[:-1])
    assert r.pending_messages == 0 and r.pending_bytes == 0
    return messages, out[-1]


def fragment(message_id: int, index: int, count: int, part: bytes = b"x") -> bytes:
    return struct.pack("!BIII", KIND_FRAGMENT, message_id, index, count) + part


# ---- what goes on the wire ------------------------------------------------------


def test_protobuf_that_fits_is_sent_unchanged() -> None:
    # A plain actr peer must see exactly the protobuf bytes: field-1 tag 0x0a.
    data = b"\x0a\x03abc" + b"z" * 20
    messages, out = roundtrip(data)
    assert messages == [data]
    assert out == data


def test_empty_frame_is_raw() -> None:
    messages, out = roundtrip(b"")
    assert messages == [b""]
    assert out == b""


@pytest.mark.parametrize("lead", range(0x08))
def test_low_lead_byte_is_escaped_and_restored(lead: int) -> None:
    data = bytes([lead]) + b"payload"
    messages, out = roundtrip(data)
    assert messages == [b"\x00" + data]
    assert out == data


def test_is_raw_boundaries() -> None:
    assert is_raw(b"\x08" * LIMIT, LIMIT)
    assert not is_raw(b"\x08" * (LIMIT + 1), LIMIT)
    assert not is_raw(b"\x07", LIMIT)
    assert is_raw(b"", LIMIT)


@pytest.mark.parametrize("size", [LIMIT, LIMIT + 1, 3 * LIMIT, 1000, 4096])
def test_large_frames_are_fragmented_within_limit(size: int) -> None:
    data = bytes(random.Random(size).randrange(256) for _ in range(size))
    data = b"\x0a" + data[1:]
    messages, out = roundtrip(data)
    assert out == data
    if size > LIMIT:
        assert len(messages) > 1
        assert all(len(m) <= LIMIT for m in messages)
        assert all(m[0] == KIND_FRAGMENT for m in messages)


def test_escaped_frame_exactly_at_limit_is_fragmented() -> None:
    data = b"\x01" * LIMIT  # escaping would make it LIMIT + 1
    messages, out = roundtrip(data)
    assert len(messages) == 2 and out == data


def test_five_mib_with_the_default_fragment_size() -> None:
    data = random.Random(5).randbytes(5 * 1024 * 1024)
    messages, out = roundtrip(data, limit=64 * 1024)
    assert out == data
    assert len(messages) == -(-len(data) // (64 * 1024 - FRAGMENT_HEADER_SIZE))


def test_message_ids_advance_and_wrap() -> None:
    enc = FrameEncoder(LIMIT)
    enc._next_id = 0xFFFFFFFF
    first = list(enc.encode(b"\x0a" * 100))
    second = list(enc.encode(b"\x0a" * 100))
    assert struct.unpack_from("!I", first[0], 1)[0] == 0xFFFFFFFF
    assert struct.unpack_from("!I", second[0], 1)[0] == 0


def test_encoder_rejects_limit_without_room() -> None:
    with pytest.raises(ValueError):
        FrameEncoder(FRAGMENT_HEADER_SIZE)


# ---- reassembly -----------------------------------------------------------------


def test_interleaved_messages_reassemble_independently() -> None:
    enc = FrameEncoder(LIMIT)
    a, b = b"\x0aA" * 100, b"\x0aB" * 70
    ma, mb = list(enc.encode(a)), list(enc.encode(b))
    r = reassembler()
    done = []
    for i in range(max(len(ma), len(mb))):
        for seq in (mb, ma):
            if i < len(seq):
                got = r.feed(seq[i])
                if got is not None:
                    done.append(got)
    assert sorted(done) == sorted([a, b])
    assert r.pending_messages == 0


def test_out_of_order_fragments_reassemble() -> None:
    data = bytes(range(256)) * 3
    messages = list(FrameEncoder(LIMIT).encode(data))
    random.Random(1).shuffle(messages)
    r = reassembler(strict=False)
    outs = [o for m in messages if (o := r.feed(m)) is not None]
    assert outs == [data]


def test_raw_message_between_fragments_passes_through() -> None:
    r = reassembler()
    assert r.feed(fragment(7, 0, 2)) is None
    assert r.feed(b"\x0araw") == b"\x0araw"
    assert r.feed(fragment(7, 1, 2, b"y")) == b"xy"


@pytest.mark.parametrize(
    "message, match",
    [
        (b"\x03abc", "reserved"),
        (b"\x07", "reserved"),
        (fragment(1, 0, 2)[:FRAGMENT_HEADER_SIZE], "no payload"),
        (fragment(1, 0, 2)[:5], "no payload"),
        (fragment(1, 2, 2), "index 2 of count 2"),
        (fragment(1, 0, 0), "count 0"),
    ],
)
def test_corrupt_messages_raise_protocol_error(message: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match) as info:
        reassembler().feed(message)
    assert info.value.code == 400


def test_count_changing_midway_is_a_protocol_error() -> None:
    r = reassembler()
    r.feed(fragment(3, 0, 3))
    with pytest.raises(ProtocolError, match="announced 3"):
        r.feed(fragment(3, 1, 4))


def test_duplicate_fragment_strict_vs_lossy() -> None:
    strict = reassembler()
    strict.feed(fragment(3, 0, 2))
    with pytest.raises(ProtocolError, match="twice"):
        strict.feed(fragment(3, 0, 2))
    lossy = reassembler(strict=False)
    lossy.feed(fragment(3, 0, 2, b"a"))
    assert lossy.feed(fragment(3, 0, 2, b"a")) is None
    assert lossy.feed(fragment(3, 1, 2, b"b")) == b"ab"


def test_message_over_max_size_raises_payload_too_large() -> None:
    r = reassembler(max_message_size=10)
    r.feed(fragment(1, 0, 3, b"12345"))
    with pytest.raises(PayloadTooLarge) as info:
        r.feed(fragment(1, 1, 3, b"678901"))
    assert info.value.code == 413
    assert r.pending_messages == 0 and r.pending_bytes == 0


def test_absurd_fragment_count_is_refused_before_allocating() -> None:
    with pytest.raises(PayloadTooLarge):
        reassembler(max_message_size=1000).feed(fragment(1, 0, 0xFFFFFFFF))


def test_too_many_partial_messages_strict_raises() -> None:
    r = reassembler(max_pending_messages=2)
    r.feed(fragment(1, 0, 2))
    r.feed(fragment(2, 0, 2))
    with pytest.raises(ProtocolError, match="more than 2"):
        r.feed(fragment(3, 0, 2))


def test_lossy_lane_evicts_oldest_incomplete_message() -> None:
    r = reassembler(max_pending_messages=2, strict=False)
    r.feed(fragment(1, 0, 2, b"lost"))  # its second fragment never comes
    r.feed(fragment(2, 0, 2, b"a"))
    r.feed(fragment(3, 0, 2, b"c"))  # evicts message 1
    assert r.pending_messages == 2
    assert r.feed(fragment(2, 1, 2, b"b")) == b"ab"
    assert r.feed(fragment(3, 1, 2, b"d")) == b"cd"
    assert r.feed(fragment(1, 1, 2, b"x")) is None  # a new partial, not a bogus join
    assert r.pending_bytes == 1


def test_pending_bytes_bound() -> None:
    strict = reassembler(max_message_size=100, max_pending_bytes=8)
    strict.feed(fragment(1, 0, 2, b"12345"))
    with pytest.raises(PayloadTooLarge, match="in reassembly"):
        strict.feed(fragment(2, 0, 2, b"67890"))
    lossy = reassembler(max_message_size=100, max_pending_bytes=8, strict=False)
    lossy.feed(fragment(1, 0, 2, b"12345"))
    lossy.feed(fragment(2, 0, 2, b"67890"))
    assert lossy.pending_messages == 1 and lossy.pending_bytes == 5


# ---- batches --------------------------------------------------------------------


def test_batch_roundtrip_keeps_order_and_bytes() -> None:
    frames = [b"", b"\x00low", b"\x0araw", bytes(range(256)), b"\x01" * 3]
    message = encode_batch(frames)
    assert message[0] == KIND_BATCH
    assert len(message) == 1 + sum(len(f) + BATCH_ITEM_OVERHEAD for f in frames)
    assert split_batch(message) == frames


@pytest.mark.parametrize(
    "message, match",
    [
        (b"\x02", "empty batch"),
        (b"\x02\x00\x00", "cut"),
        (b"\x02\x00\x00\x00\x05abc", "overruns"),
        (encode_batch([b"ok"]) + b"\x00", "cut"),
        (b"\x0anot a batch", "not a batch"),
    ],
)
def test_malformed_batch_is_protocol_error(message: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        split_batch(message)


def test_feed_refuses_a_batch() -> None:
    with pytest.raises(ProtocolError, match="split_batch"):
        reassembler().feed(encode_batch([b"a", b"b"]))
