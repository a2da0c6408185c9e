"""RFC 6455 building blocks and the HTTP upgrade, as pure functions (no sockets).

The byte vectors marked "RFC 6455 5.7" are the examples of that section.
"""

from __future__ import annotations

import base64
import os

import pytest

from actr_py.errors import ProtocolError
from actr_py.wire.websocket import rfc6455
from actr_py.wire.websocket.rfc6455 import (
    CLOSE_INVALID_DATA,
    CLOSE_NO_STATUS,
    CLOSE_PROTOCOL_ERROR,
    OP_BINARY,
    OP_TEXT,
    MaskKeys,
    WebSocketViolation,
    accept_key,
    decode_close,
    encode_close,
    encode_frame_header,
    encode_ws_frame,
    mask,
    mask_pure,
    new_client_key,
)
from actr_py.wire.websocket.upgrade import (
    MAX_HEAD_SIZE,
    UpgradeRefused,
    build_request,
    check_response,
    find_head_end,
    parse_request,
    refusal_response,
    switching_response,
)

# ---- keys and masking ---------------------------------------------------------------------


def test_accept_key_matches_the_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_client_keys_are_sixteen_random_bytes() -> None:
    keys = {new_client_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(base64.b64decode(k, validate=True)) == 16 for k in keys)


def test_masked_hello_matches_the_rfc_example() -> None:
    # RFC 6455 5.7: a single-frame masked text message "Hello".
    frame = encode_ws_frame(OP_TEXT, b"Hello", mask_key=bytes.fromhex("37fa213d"))
    assert frame == bytes.fromhex("818537fa213d7f9f4d5158")
    assert encode_ws_frame(OP_TEXT, b"Hello") == bytes.fromhex("810548656c6c6f")


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, "8200"),
        (125, "827d"),
        (126, "827e007e"),
        (256, "827e0100"),  # RFC 6455 5.7: 256 bytes, 16-bit length
        (65535, "827effff"),
        (65536, "827f0000000000010000"),  # RFC 6455 5.7: 64 KiB, 64-bit length
    ],
)
def test_header_length_forms(length: int, header: str) -> None:
    assert encode_frame_header(OP_BINARY, length) == bytes.fromhex(header)
    masked = encode_frame_header(OP_BINARY, length, mask_key=b"\x01\x02\x03\x04")
    raw = bytes.fromhex(header)
    assert masked == bytes([raw[0], raw[1] | 0x80]) + raw[2:] + b"\x01\x02\x03\x04"


def test_a_non_final_frame_has_no_fin_bit() -> None:
    assert encode_frame_header(OP_BINARY, 3, fin=False) == b"\x02\x03"


@pytest.mark.parametrize("size", [*range(0, 20), 125, 126, 4097, 1 << 20])
def test_compiled_and_pure_masking_agree_and_invert(size: int) -> None:
    key = os.urandom(4)
    data = os.urandom(size)
    pure = mask_pure(key, data)
    assert len(pure) == size
    assert bytes(mask(key, data)) == pure
    assert mask_pure(key, pure) == data
    if size:
        assert pure != data or key == b"\x00\x00\x00\x00"
    # Byte i is XORed with key[i % 4] (RFC 6455 5.3).
    assert all(pure[i] == data[i] ^ key[i % 4] for i in range(min(size, 64)))


@pytest.mark.parametrize("size", [0, 1, 5, 9, 1000])
def test_in_place_masking_agrees_with_the_pure_version(size: int) -> None:
    key = os.urandom(4)
    data = os.urandom(size)
    fast, slow = bytearray(data), bytearray(data)
    rfc6455.mask_inplace(key, fast)
    rfc6455.mask_inplace_pure(key, slow)
    assert bytes(fast) == bytes(slow) == mask_pure(key, data)


def test_the_compiled_helper_is_used_when_aiohttp_has_it() -> None:
    compiled = rfc6455._compiled
    if compiled is None:
        pytest.skip("this aiohttp build has no compiled masking helper")
    assert rfc6455.mask is rfc6455._mask_compiled
    assert rfc6455.mask_inplace is compiled


def test_mask_keys_are_fresh_and_refill() -> None:
    keys = MaskKeys()
    drawn = [keys.next() for _ in range(3000)]  # crosses the 4 KiB refill twice
    assert all(len(k) == 4 for k in drawn)
    assert len(set(drawn)) > 2990  # random 32-bit keys: collisions are rare


# ---- close frames ---------------------------------------------------------------------------


def test_close_payload_round_trips() -> None:
    payload = encode_close(4409, b"simultaneous dial")
    assert payload[:2] == b"\x11\x39"
    assert decode_close(payload) == (4409, "simultaneous dial")
    assert encode_close(None) == b""
    assert decode_close(b"") == (CLOSE_NO_STATUS, "")
    with pytest.raises(ValueError):
        encode_close(1000, b"x" * 124)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4000, 4999])
def test_sendable_close_codes_are_accepted(code: int) -> None:
    assert decode_close(code.to_bytes(2, "big"))[0] == code


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_reserved_or_invalid_close_codes_are_violations(code: int) -> None:
    with pytest.raises(WebSocketViolation) as info:
        decode_close(code.to_bytes(2, "big"))
    assert info.value.close_code == CLOSE_PROTOCOL_ERROR
    assert isinstance(info.value, ProtocolError) and info.value.code == 400


def test_malformed_close_payloads() -> None:
    with pytest.raises(WebSocketViolation) as short:
        decode_close(b"\x03")
    assert short.value.close_code == CLOSE_PROTOCOL_ERROR
    with pytest.raises(WebSocketViolation) as utf8:
        decode_close(b"\x03\xe8\xff\xfe")
    assert utf8.value.close_code == CLOSE_INVALID_DATA


# ---- the HTTP upgrade -------------------------------------------------------------------------

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def _request(*lines: str, start: str = "GET /actr/ws HTTP/1.1") -> bytes:
    return ("\r\n".join([start, *lines]) + "\r\n\r\n").encode()


GOOD = (
    "Host: 127.0.0.1:1",
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Key: {KEY}",
    "Sec-WebSocket-Version: 13",
)


def test_a_request_built_by_the_dialer_is_accepted() -> None:
    key = new_client_key()
    request = build_request("127.0.0.1", 4242, "/actr/ws", key)
    assert find_head_end(request) == len(request)
    assert b"Host: 127.0.0.1:4242\r\n" in request
    assert parse_request(request, "/actr/ws") == key
    assert build_request("::1", 1, "/p", key).startswith(b"GET /p HTTP/1.1\r\nHost: [::1]:1\r\n")


def test_browser_style_headers_are_accepted() -> None:
    head = _request(
        "host: example",
        "UPGRADE: WebSocket",
        "Connection: keep-alive, Upgrade",
        f"sec-websocket-key: {KEY}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        "Origin: http://example",
        start="GET /actr/ws?token=1 HTTP/1.1",
    )
    assert parse_request(head, "/actr/ws") == KEY


@pytest.mark.parametrize(
    ("head", "status", "detail"),
    [
        (_request(*GOOD, start="GET /other HTTP/1.1"), 404, "no WebSocket endpoint"),
        (_request(*GOOD, start="POST /actr/ws HTTP/1.1"), 400, "method POST"),
        (_request(*GOOD, start="GET /actr/ws HTTP/1.0"), 400, "HTTP/1.1 needed"),
        (_request(*GOOD, start="GET /actr/ws"), 400, "malformed request line"),
        (_request(*GOOD[:1], *GOOD[2:]), 400, "Upgrade: websocket"),
        (_request(*GOOD[:2], "Connection: keep-alive", *GOOD[3:]), 400, "Connection: Upgrade"),
        (_request(*GOOD[:4], "Sec-WebSocket-Version: 8"), 400, "version 13"),
        (_request(*GOOD[:4]), 400, "version 13"),
        (_request(*GOOD[:3], "Sec-WebSocket-Key: not base64!", GOOD[4]), 400, "16 bytes"),
        (_request(*GOOD[:3], "Sec-WebSocket-Key: AAAA", GOOD[4]), 400, "16 bytes"),
        (_request(*GOOD[:3], GOOD[4]), 400, "16 bytes"),
        (_request(*GOOD, " folded continuation"), 400, "folded"),
        (_request(*GOOD, "no colon here"), 400, "malformed header"),
    ],
)
def test_bad_requests_are_refused_with_the_right_status(
    head: bytes, status: int, detail: str
) -> None:
    with pytest.raises(UpgradeRefused) as info:
        parse_request(head, "/actr/ws")
    assert info.value.status == status
    assert detail in info.value.detail
    response = refusal_response(info.value)
    assert response.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Connection: close\r\n" in response
    body = response[find_head_end(response) :]
    assert f"Content-Length: {len(body)}\r\n".encode() in response


def test_a_version_refusal_names_the_version_we_speak() -> None:
    with pytest.raises(UpgradeRefused) as info:
        parse_request(_request(*GOOD[:4], "Sec-WebSocket-Version: 8"), "/actr/ws")
    assert b"Sec-WebSocket-Version: 13\r\n" in refusal_response(info.value)


def test_the_switching_response_satisfies_the_client_check() -> None:
    response = switching_response(KEY)
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in response
    check_response(response, KEY)


@pytest.mark.parametrize(
    ("response", "detail"),
    [
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "404 Not Found instead of 101"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
            "does not match",
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            "Upgrade: websocket",
        ),
        (
            switching_response(KEY)[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            "never offered",
        ),
    ],
)
def test_the_client_refuses_a_bad_answer(response: bytes, detail: str) -> None:
    with pytest.raises(ProtocolError) as info:
        check_response(response, KEY)
    assert detail in info.value.message


def test_head_end_and_size_limit() -> None:
    assert find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n") == -1
    assert find_head_end(b"a\r\n\r\nrest") == 5
    assert MAX_HEAD_SIZE >= 8 * 1024
