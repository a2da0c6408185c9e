"""One command: a signaling server, a publisher, a relay and three subscribers.

    python -m examples.media_relay.run [--out DIR] [--frames 90] [--file video.mp4]

Six processes: ``python -m signaling_server`` on a free port with a temporary
database, then the relay, the publisher (640x480 test pattern at 30 fps, VP8)
and three subscribers, the third joining a second late. Each subscriber
prints what it received and saves a PNG snapshot in ``--out`` (a temporary
directory by default). Then everything is stopped.
"""

from __future__ import annotations

import argparse
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


async def _first_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().rstrip()
    print(line, flush=True)
    return line


async def _pump(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdout is not None
    async for line in proc.stdout:
        print(line.decode().rstrip(), flush=True)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(_pump(proc), 20)
    await proc.wait()


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "snapshots"
        out.mkdir(parents=True, exist_ok=True)
        server = await _spawn("-m", "signaling_server", "--host", "127.0.0.1", "--port", "0",
                              "--db", str(Path(tmp) / "signaling.db"))
        line = await _first_line(server)
        match = re.search(r"listening on ([0-9.]+):(\d+)", line)
        if not match:
            raise SystemExit(f"signaling server did not start: {line!r}")
        url = f"ws://{match.group(1)}:{match.group(2)}/signaling/ws"
        relay = await _spawn("-m", "examples.media_relay.relay", "--signaling", url)
        await _first_line(relay)
        extra = ["--file", args.file] if args.file else []
        publisher = await _spawn("-m", "examples.media_relay.publisher", "--signaling", url, *extra)
        await _first_line(publisher)

        async def subscriber(name: str, delay: float) -> int:
            await asyncio.sleep(delay)
            proc = await _spawn(
                "-m", "examples.media_relay.subscriber", "--signaling", url, "--name", name,
                "--frames", str(args.frames), "--snapshot", str(out / f"{name}.png"),
            )
            await asyncio.wait_for(_pump(proc), 90)
            return await proc.wait()

        codes = await asyncio.gather(
            subscriber("sub1", 0), subscriber("sub2", 0), subscriber("sub3-late", 1.0)
        )
        await _stop(publisher)
        await _stop(relay)
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 20)
        ok = all(code == 0 for code in codes)
        if not args.out:
            print("[run] snapshots were in a temporary directory; keep them with --out DIR")
        print(f"[run] done ({'ok' if ok else 'FAILED'})", flush=True)
        return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", help="directory for the subscribers' PNG snapshots")
    parser.add_argument("--frames", type=int, default=90, help="frames each subscriber waits for")
    parser.add_argument("--file", help="publish this video file instead of the test pattern")
    sys.exit(asyncio.run(main(parser.parse_args())))
