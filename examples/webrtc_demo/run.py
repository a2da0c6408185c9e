"""`make demo`: a signaling server and two node processes, peer to peer over WebRTC.

Starts ``python -m signaling_server`` on a free port with a temporary database,
a service node and a caller node (``examples.webrtc_demo.peer``); the caller
discovers the service, connects over WebRTC DataChannels, measures, streams,
and exits; then everything is stopped.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _pump(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdout is not None
    async for line in proc.stdout:
        print(line.decode().rstrip(), flush=True)


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        server = await _spawn("-m", "signaling_server", "--host", "127.0.0.1", "--port", "0",
                              "--db", str(Path(tmp) / "signaling.db"))
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 20)).decode()
        match = re.search(r"listening on ([0-9.]+):(\d+)", line)
        if not match:
            raise SystemExit(f"signaling server did not start: {line!r}")
        url = f"ws://{match.group(1)}:{match.group(2)}/signaling/ws"
        print(f"[demo] signaling server at {url}", flush=True)
        service = await _spawn("-m", "examples.webrtc_demo.peer", "--role", "service",
                               "--signaling", url)
        assert service.stdout is not None
        print((await asyncio.wait_for(service.stdout.readline(), 20)).decode().rstrip())
        caller = await _spawn("-m", "examples.webrtc_demo.peer", "--role", "caller",
                              "--signaling", url)
        await asyncio.wait_for(_pump(caller), 60)
        code = await caller.wait()
        service.send_signal(signal.SIGTERM)
        await asyncio.wait_for(_pump(service), 20)
        await service.wait()
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 20)
        print(f"[demo] done ({'ok' if code == 0 else 'FAILED'})", flush=True)
        return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
