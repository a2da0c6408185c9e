"""The HTTP/1.1 opening handshake of RFC 6455, both sides, as pure functions.

The listener answers only ``GET <path>`` requests that ask to upgrade to
WebSocket version 13 with a well-formed key; everything else gets a plain
HTTP error (404 for another path, 400 otherwise) and the socket is closed.
No subprotocol and no extension is ever accepted, so a client offering
``permessage-deflate`` (browsers, aiohttp) simply gets uncompressed frames.
The dialer sends the request and accepts only a ``101`` whose
``Sec-WebSocket-Accept`` matches its key and which switches on nothing we
did not ask for.
"""

from __future__ import annotations

import base64
import binascii

from ...errors import ProtocolError
from .rfc6455 import accept_key

__all__ = [
    "MAX_HEAD_SIZE",
    "UpgradeRefused",
    "build_request",
    "check_response",
    "find_head_end",
    "parse_request",
    "refusal_response",
    "switching_response",
]

#: Request or response heads longer than this are refused (431-like, as 400).
MAX_HEAD_SIZE = 16 * 1024

_REASONS = {400: "Bad Request", 404: "Not Found"}


class UpgradeRefused(ProtocolError):
    """The request cannot be upgraded; answer with ``status`` and close."""

    def __init__(
        self, status: int, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"HTTP {status}: {detail}", code=404 if status == 404 else 400)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def find_head_end(buffer: bytes | bytearray) -> int:
    """Index just past the blank line that ends an HTTP head, or -1."""
    end = buffer.find(b"\r\n\r\n")
    return -1 if end < 0 else end + 4


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    """The start line and the header fields (names lower-cased, repeats joined)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        raise UpgradeRefused(400, "undecodable request head") from None
    lines = text.split("\r\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise UpgradeRefused(400, "empty request")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line or line[0] in " \t":
            raise UpgradeRefused(400, "folded or empty header line")
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        if not sep or not name or name != name.strip() or " " in name:
            raise UpgradeRefused(400, f"malformed header line {line[:40]!r}")
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return lines[0], headers


def _tokens(value: str) -> set[str]:
    return {t.strip().lower() for t in value.split(",") if t.strip()}


# ---- server side ---------------------------------------------------------------------------


def parse_request(head: bytes, path: str) -> str:
    """Validate an upgrade request for ``path``; returns the client's key.

    Raises :class:`UpgradeRefused` naming the HTTP status to answer with.
    """
    start, headers = _parse_head(head)
    parts = start.split(" ")
    if len(parts) != 3:
        raise UpgradeRefused(400, f"malformed request line {start[:60]!r}")
    method, target, version = parts
    if not version.startswith("HTTP/1.") or version == "HTTP/1.0":
        raise UpgradeRefused(400, f"{version[:16]} cannot upgrade (HTTP/1.1 needed)")
    if method != "GET":
        raise UpgradeRefused(400, f"method {method[:16]} cannot open a WebSocket")
    if target.split("?", 1)[0] != path:
        raise UpgradeRefused(404, f"no WebSocket endpoint at {target[:80]}")
    if "websocket" not in _tokens(headers.get("upgrade", "")):
        raise UpgradeRefused(400, "Upgrade: websocket missing")
    if "upgrade" not in _tokens(headers.get("connection", "")):
        raise UpgradeRefused(400, "Connection: Upgrade missing")
    if headers.get("sec-websocket-version", "").strip() != "13":
        raise UpgradeRefused(
            400, "only WebSocket version 13 is spoken", {"Sec-WebSocket-Version": "13"}
        )
    key = headers.get("sec-websocket-key", "")
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != 16:
        raise UpgradeRefused(400, "Sec-WebSocket-Key is not 16 bytes of base64")
    return key


def switching_response(client_key: str) -> bytes:
    """The ``101 Switching Protocols`` answer to a valid request."""
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(client_key)}\r\n"
        "\r\n"
    ).encode("ascii")


def refusal_response(refusal: UpgradeRefused) -> bytes:
    """A plain HTTP error that closes the connection."""
    body = (refusal.detail + "\n").encode("utf-8", "replace")
    lines = [f"HTTP/1.1 {refusal.status} {_REASONS.get(refusal.status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in refusal.headers.items()]
    lines += [
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("ascii") + body


# ---- client side ---------------------------------------------------------------------------


def build_request(host: str, port: int, path: str, client_key: str) -> bytes:
    """The upgrade request the dialer sends."""
    authority = f"[{host}]" if ":" in host else host
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {authority}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {client_key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    ).encode("ascii")


def check_response(head: bytes, client_key: str) -> None:
    """Accept the server's answer only if it is a proper ``101`` for our key.

    Raises :class:`ProtocolError` saying what was wrong (the status line of
    a refusal, a wrong accept key, an extension or subprotocol we never offered).
    """
    try:
        start, headers = _parse_head(head)
    except UpgradeRefused as exc:
        raise ProtocolError(f"malformed handshake response: {exc.detail}") from None
    parts = start.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError(f"not an HTTP response: {start[:60]!r}")
    if parts[1] != "101":
        raise ProtocolError(f"the server answered {' '.join(parts[1:])[:80]} instead of 101")
    if "websocket" not in _tokens(headers.get("upgrade", "")):
        raise ProtocolError("101 without Upgrade: websocket")
    if "upgrade" not in _tokens(headers.get("connection", "")):
        raise ProtocolError("101 without Connection: Upgrade")
    if headers.get("sec-websocket-accept", "") != accept_key(client_key):
        raise ProtocolError("Sec-WebSocket-Accept does not match our key")
    for name in ("sec-websocket-extensions", "sec-websocket-protocol"):
        if headers.get(name):
            raise ProtocolError(f"the server switched on {name} we never offered")
