"""Loopback-only ICE gathering: the aioice seam, checked against the installed version."""

from __future__ import annotations

import socket
from pathlib import Path

import aioice
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from actr_py.errors import ConfigError, StateError
from actr_py.wire.webrtc.gathering import (
    check_supported,
    ice_gatherers,
    restrict_gathering,
    set_receive_buffer,
    verify_local_candidates,
)


def kernel_rmem_max() -> int | None:
    path = Path("/proc/sys/net/core/rmem_max")
    return int(path.read_text()) if path.exists() else None


def new_pc() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("probe")  # creates the SCTP/DTLS/ICE transports
    return pc


def test_aioice_skips_loopback_by_itself() -> None:
    # Why the module exists: aioice's own discovery never offers 127.0.0.1.
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)


def test_installed_aioice_is_supported() -> None:
    check_supported()


@pytest.mark.parametrize("version", ["0.12.0", "0.14.0", "1.0.0", "garbage"])
def test_untested_aioice_is_refused(version: str) -> None:
    with pytest.raises(ConfigError, match="untested"):
        check_supported(version)


async def test_restricted_gathering_binds_only_loopback() -> None:
    pc = new_pc()
    other = new_pc()
    try:
        restrict_gathering(pc, ["127.0.0.1"])
        await pc.setLocalDescription(await pc.createOffer())
        candidates = [c for g in ice_gatherers(pc) for c in g.getLocalCandidates()]
        assert candidates, "no candidate gathered"
        assert {c.ip for c in candidates} == {"127.0.0.1"}
        assert "c=IN IP4 127.0.0.1" in pc.localDescription.sdp
        verify_local_candidates(pc, ["127.0.0.1"])
        # The restriction is per connection: the other one is untouched.
        (gatherer,) = ice_gatherers(other)
        assert "get_component_candidates" not in vars(gatherer._connection)
    finally:
        await pc.close()
        await other.close()


async def test_restricting_twice_is_harmless() -> None:
    pc = new_pc()
    try:
        restrict_gathering(pc, ["127.0.0.1"])
        restrict_gathering(pc, ["127.0.0.1"])
        await pc.setLocalDescription(await pc.createOffer())
        assert len([c for g in ice_gatherers(pc) for c in g.getLocalCandidates()]) == 1
    finally:
        await pc.close()


async def test_restriction_must_precede_gathering() -> None:
    pc = new_pc()
    try:
        gatherer = next(ice_gatherers(pc))
        # Make gather() a no-op so this test never binds a non-loopback address.
        gatherer._connection._local_candidates_start = True
        await gatherer.gather()
        assert gatherer.state == "completed"
        with pytest.raises(StateError, match="already ran"):
            restrict_gathering(pc, ["127.0.0.1"])
    finally:
        await pc.close()


async def test_verify_catches_an_address_outside_the_list() -> None:
    pc = new_pc()
    try:
        restrict_gathering(pc, ["127.0.0.1"])
        await next(ice_gatherers(pc)).gather()
        with pytest.raises(StateError, match="outside ice_addresses"):
            verify_local_candidates(pc, ["10.9.8.7"])
    finally:
        await pc.close()


async def test_receive_buffer_is_enlarged_within_the_kernel_cap() -> None:
    pc = new_pc()
    try:
        restrict_gathering(pc, ["127.0.0.1"])
        await pc.setLocalDescription(await pc.createOffer())
        wanted = 4 * 1024 * 1024
        set_receive_buffer(pc, wanted)
        cap = kernel_rmem_max()
        if cap is None:
            pytest.skip("no /proc/sys/net/core/rmem_max to know the kernel cap")
        (gatherer,) = ice_gatherers(pc)
        (protocol,) = gatherer._connection._protocols
        sock = protocol.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= min(wanted, cap)
    finally:
        await pc.close()
