"""A hand-driven WebSocket endpoint over asyncio streams, for forging bytes.

Tests use it to send what a well-behaved library never would (unmasked client
frames, reserved bits, fragments with pings in between, bad close payloads)
and to read exactly what our side put on the wire. Frame encoding here is
written independently of ``actr_py.wire.websocket.rfc6455`` on purpose, so a
shared mistake cannot hide.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from urllib.parse import urlsplit

__all__ = ["RawFrame", "RawSocket", "raw_frame"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def raw_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    masked: bool = True,
    rsv: int = 0,
    declared: int | None = None,
) -> bytes:
    """One frame, byte by byte; ``declared`` lies about the length."""
    length = len(payload) if declared is None else declared
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    bit = 0x80 if masked else 0
    if length < 126:
        head = bytes([first, bit | length])
    elif length < 65536:
        head = bytes([first, bit | 126]) + struct.pack(">H", length)
    else:
        head = bytes([first, bit | 127]) + struct.pack(">Q", length)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class RawFrame:
    def __init__(self, fin: bool, opcode: int, payload: bytes) -> None:
        self.fin = fin
        self.opcode = opcode
        self.payload = payload

    @property
    def close_code(self) -> int | None:
        return int.from_bytes(self.payload[:2], "big") if len(self.payload) >= 2 else None

    def __repr__(self) -> str:
        return f"RawFrame(fin={self.fin}, opcode={self.opcode}, {self.payload[:40]!r})"


class RawSocket:
    """One TCP connection on which the test writes and reads raw bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, url: str) -> RawSocket:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer)

    @classmethod
    async def upgrade(cls, url: str) -> RawSocket:
        """Connect and complete a correct client handshake."""
        sock = await cls.connect(url)
        key = base64.b64encode(os.urandom(16)).decode()
        path = urlsplit(url).path
        status, headers = await sock.request(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        assert status == 101, (status, headers)
        expected = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
        assert headers["sec-websocket-accept"] == expected
        return sock

    async def request(self, text: str) -> tuple[int, dict[str, str]]:
        """Send an HTTP head, read the response head: (status, lower-cased headers)."""
        self.writer.write(text.encode())
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        return status, headers

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_frame(self, timeout: float = 5.0) -> RawFrame:
        """The next frame from the server (which must not mask it)."""
        async with asyncio.timeout(timeout):
            b0, b1 = await self.reader.readexactly(2)
            assert not b1 & 0x80, "the server masked a frame"
            length = b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(length)
        assert not b0 & 0x70, "reserved bits set"
        return RawFrame(bool(b0 & 0x80), b0 & 0x0F, payload)

    async def read_until_closed(self, timeout: float = 5.0) -> list[RawFrame]:
        """Every frame until the server closes the TCP connection."""
        frames: list[RawFrame] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    frames.append(await self.read_frame(timeout))
                except asyncio.IncompleteReadError:
                    return frames

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:  # pragma: no cover - reset by the peer
            pass
