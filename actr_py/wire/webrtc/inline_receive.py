"""Decrypt DTLS application records inside the socket callback and hand them to SCTP.

Why: aiortc receives every datagram through a chain built for generality.
aioice first tries to parse it as STUN (a ``ValueError`` raised and caught
per datagram), queues it, and wakes aiortc's DTLS reader task; the task
climbs out of three nested coroutines, decrypts the record, probes the
memory BIO for output (another exception per datagram) and awaits the SCTP
handler. Profiles of a bulk transfer (benchmarks/README.md, "Profiling
evidence") show that chain costing about as much as the SCTP work itself.

What: for a datagram whose first byte is 23, a DTLS 1.0/1.2 record of type
``application_data`` (the only kind a healthy association carries after the
handshake), the ICE socket's protocol decrypts it and runs the association's
packet handler in the same call. Everything else (STUN, handshake records,
alerts, SRTP, DTLS 1.3 records, whose type is hidden) goes the stock way, so
aiortc's own code keeps handling close_notify, retransmitted handshake
flights and media; so does everything while datagrams queued the stock way
wait, which keeps the order in which packets reach SCTP.

How: :func:`apply` replaces ``datagram_received`` on the instances of
aioice's ``StunProtocol`` that belong to one peer connection (nothing global)
once ICE and DTLS are connected and only when the connection runs
:class:`~.sctp_fast.FastSctpTransport`, whose packet handler never waits: its
writes are synchronous. Should a packet handler ever wait after all, packets
decrypted meanwhile are held in order and handed over when it finishes. A
record the peer closed the session with (rare: only possible behind an
application record in one datagram) is reported to aiortc's reader the way
aioice reports a lost connection, so aiortc tears down as it would have.
``ACTR_PY_INLINE_RECEIVE=0`` turns it off (to measure the difference).
"""

from __future__ import annotations

import collections
import logging
import os
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import State as _DtlsState
from OpenSSL import SSL

from ..eager import start_eagerly
from .gathering import ice_gatherers
from .sctp_fast import FastSctpTransport

__all__ = ["ENV_SWITCH", "InlineReceiver", "apply"]

logger = logging.getLogger(__name__)

#: Environment switch: "0" leaves every datagram on aiortc's reader task.
ENV_SWITCH = "ACTR_PY_INLINE_RECEIVE"

#: What the inline path reads or updates on aiortc's DTLS transport (beyond what
#: :mod:`.sctp_fast`, whose version gate it stands behind, already checked).
_REQUIRED_DTLS_ATTRS = (
    "_ssl", "_state", "_data_receiver", "transport",
    "_RTCDtlsTransport__rx_bytes", "_RTCDtlsTransport__rx_packets",
)

#: First byte of a DTLS 1.0/1.2 record carrying application data (RFC 6347 section 4.1).
_APPLICATION_DATA = 23
_MARK = "_actr_py_inline_receive"


def enabled_by_env() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip() not in ("0", "false", "no", "off")


def apply(pc: RTCPeerConnection) -> InlineReceiver | None:
    """Receive ``pc``'s SCTP packets inline; the receiver, or None where it does not apply.

    Call once ICE and DTLS are connected; calling again is harmless (and
    picks up sockets that appeared since). Refuses (None, logged) when the
    DTLS transport lacks an attribute the path reads; an ICE socket whose
    protocol is not the aioice one we know stays on the stock path.
    """
    sctp = pc.sctp
    if not enabled_by_env() or sctp is None or type(sctp) is not FastSctpTransport:
        return None
    dtls = sctp.transport
    missing = [a for a in _REQUIRED_DTLS_ATTRS if not hasattr(dtls, a)]
    if missing:
        logger.warning("inline receive off: aiortc's DTLS transport lacks %s", ", ".join(missing))
        return None
    receiver = getattr(dtls, _MARK, None)
    if receiver is None:
        receiver = InlineReceiver(sctp)
        setattr(dtls, _MARK, receiver)
    for gatherer in ice_gatherers(pc):
        connection = gatherer._connection
        for protocol in getattr(connection, "_protocols", ()):
            receiver.install(protocol, connection)
    return receiver


class InlineReceiver:
    """One DTLS transport's inline path from the ICE sockets to its SCTP association."""

    def __init__(self, sctp: FastSctpTransport) -> None:
        self._sctp = sctp
        self._dtls = sctp.transport
        self._ssl: SSL.Connection = self._dtls._ssl
        #: Packets decrypted while a packet handler waits, in arrival order.
        self._held: collections.deque[bytes] = collections.deque()
        self._waiting = False
        #: Datagrams handled inline (tests and diagnostics read it).
        self.packets = 0

    def install(self, protocol: Any, connection: Any) -> bool:
        """Give one aioice ``StunProtocol`` the inline path; False if it is not one we know."""
        if getattr(protocol, _MARK, False):
            return True
        if getattr(protocol, "receiver", None) is not connection:
            return False
        queue = getattr(connection, "_queue", None)
        if queue is None or not hasattr(queue, "_queue"):
            return False
        protocol.datagram_received = self._reader(protocol.datagram_received, queue._queue)
        setattr(protocol, _MARK, True)
        return True

    def _reader(
        self, stock: Callable[[bytes, Any], None], queued: collections.deque[Any]
    ) -> Callable[[bytes, Any], None]:
        dtls = self._dtls
        sctp = self._sctp
        connected = _DtlsState.CONNECTED

        def datagram_received(data: bytes, addr: Any) -> None:
            if (
                not data
                or data[0] != _APPLICATION_DATA
                or queued  # the reader task has datagrams to catch up on first
                or dtls._state is not connected
                or dtls._data_receiver is not sctp
            ):
                stock(data, addr)
                return
            self._record(data)

        return datagram_received

    def _record(self, data: bytes) -> None:
        """What aiortc's ``RTCDtlsTransport._recv_next`` does with one DTLS record."""
        dtls = self._dtls
        dtls._RTCDtlsTransport__rx_bytes += len(data)
        dtls._RTCDtlsTransport__rx_packets += 1
        ssl = self._ssl
        ssl.bio_write(data)
        try:
            packet = ssl.recv(1500)
        except SSL.ZeroReturnError:
            # The peer closed the DTLS session: aiortc's reader treats a
            # ConnectionError as the end, and a None in aioice's queue makes it one.
            logger.debug("DTLS shutdown by remote party (inline)")
            self._dtls.transport._connection._queue.put_nowait(None)
            return
        except SSL.Error:
            return  # undecryptable: dropped, as aiortc drops it
        self.packets += 1
        if self._waiting:
            self._held.append(packet)
            return
        self._handle(packet)

    def _handle(self, packet: bytes) -> None:
        try:
            task = start_eagerly(self._sctp._handle_data(packet))
        except ConnectionError:
            return  # the association is going away; aiortc's reader would end here too
        except Exception:  # a bug in SCTP handling: drop the packet, keep the socket
            logger.exception("SCTP packet handler failed")
            return
        if task is not None:
            self._waiting = True
            task.add_done_callback(self._resume)

    def _resume(self, task: Any) -> None:
        self._waiting = False
        if not task.cancelled() and task.exception() is not None:
            logger.debug("SCTP packet handler failed: %r", task.exception())
        held = self._held
        while held and not self._waiting:
            self._handle(held.popleft())
