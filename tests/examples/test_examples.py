"""Each example runs as users run it: a subprocess from the repo root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_module(module: str, timeout: float = 60) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_echo_example() -> None:
    out = run_module("examples.echo.client")
    assert "'hello' -> 'hello (served by " in out
    assert "@1:acme+echo)" in out
    assert "both nodes stopped" in out


def test_data_stream_example() -> None:
    out = run_module("examples.data_stream.main")
    assert "in order and intact: True" in out


def test_demo_runs_three_processes_over_webrtc() -> None:
    out = run_module("examples.demo", timeout=90)
    assert "first call (WebRTC connect included)" in out and "over {'webrtc'}" in out
    assert "200 round trips: p50" in out
    assert "in order and intact: True" in out
    assert "[service] stopped" in out and out.rstrip().endswith("[demo] done (ok)")


async def test_echo_service_uses_descriptor_types_and_signal_lane() -> None:
    from actr_py import PayloadType
    from examples.echo.service import EchoService

    specs = EchoService.handler_specs()
    assert set(specs) == {"echo.EchoService.Echo", "echo.EchoService.Ping"}
    echo = specs["echo.EchoService.Echo"]
    assert echo.request_type.DESCRIPTOR.full_name == "echo.EchoRequest"
    assert echo.response_type.DESCRIPTOR.full_name == "echo.EchoResponse"
    assert echo.payload_type is PayloadType.RPC_RELIABLE
    assert specs["echo.EchoService.Ping"].payload_type is PayloadType.RPC_SIGNAL


async def test_echo_example_across_three_processes(tmp_path: Path) -> None:
    import asyncio

    from tests.support.signaling import signaling_server

    async with signaling_server(tmp_path) as srv:
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "examples.echo.service", "--signaling", srv.url,
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            assert service.stdout is not None
            first = (await asyncio.wait_for(service.stdout.readline(), 20)).decode()
            assert first.startswith("echo service ") and "serving lanes at ws://127.0.0.1:" in first
            client = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "examples.echo.client", "--signaling", srv.url, "hi", "there",
                cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(client.communicate(), 30)
            assert client.returncode == 0, err.decode()
            text = out.decode()
            service_id = first.split()[2]
            assert f"'hi' -> 'hi (served by {service_id})'" in text
            assert f"'there' -> 'there (served by {service_id})'" in text
        finally:
            service.terminate()
            rest = await asyncio.wait_for(service.communicate(), 15)
        assert b"echo service stopped" in rest[0]
