"""A browser subscriber: headless Chromium plays video relayed by an actr_py relay.

The run is ``tests/media/browser/scenario.py`` inside a private network
namespace (``unshare --net``: loopback only), with the real signaling server,
a relay node, a publisher node and Debian's Chromium running a page built on
the plain actr peer of tests/browser/page. The browser subscribes over a
DataChannel RPC; the relay adds the video track with a renegotiation offer;
the browser's own decoder statistics (getStats) must show decoded frames of
the codec and payload type actr specifies.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT = 20.0


def run_scenario(browser_role: str, tmp_path: Path) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run tools/ensure_chromium.sh (as root)")
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--net", "true"]).returncode != 0:
        pytest.fail("needs unshare --net (util-linux, root): the browser must see loopback only")
    out, log = tmp_path / "result.json", tmp_path / "scenario.log"
    cmd = [
        unshare, "--net", sys.executable, "-m", "tests.media.browser.scenario",
        "--browser-role", browser_role, "--workdir", str(tmp_path / "run"),
        "--out", str(out), "--timeout", str(TIMEOUT),
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    with log.open("wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_file, stderr=log_file,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(TIMEOUT + 15)
        except subprocess.TimeoutExpired:
            pass
        finally:
            groups = [proc.pid]
            with contextlib.suppress(FileNotFoundError, ValueError):
                groups.append(int((tmp_path / "run" / "chromium.pgid").read_text()))
            for pgid in groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            proc.wait(10)
    if not out.exists():
        pytest.fail(f"scenario wrote no result:\n{log.read_text(errors='replace')[-4000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def explain(result: dict[str, Any]) -> str:
    events = "\n".join(f"  {e.get('ms')} ms {e.get('text', e)}" for e in result["page_events"])
    report = result.get("report") or {}
    return (
        f"scenario error: {result.get('error')}\npage error: {report.get('error')}\n"
        f"page events:\n{events}\nnode log:\n{result.get('node_log')}\n"
        f"chromium log:\n{result.get('chromium_log')}"
    )


@pytest.mark.parametrize("browser_role", ["answerer", "offerer"])
def test_browser_decodes_video_relayed_to_it(browser_role: str, tmp_path: Path) -> None:
    result = run_scenario(browser_role, tmp_path)
    try:
        report = result.get("report") or {}
        assert "error" not in result and report.get("ok"), "the run failed"
        assert result["interfaces"] == ["lo"]
        assert report["role"] == browser_role
        assert report["subscribed"]["error"] is None
        # The relay's track, named by the SDP msid: the actr track id reaches a browser too.
        (track,) = report["tracks"]
        assert track["kind"] == "video" and track["trackId"] == "camera"
        video = report["video"]
        assert video["framesDecoded"] >= 30, video  # Chromium's decoder, not ours
        assert (video["mimeType"], video["payloadType"]) == ("video/VP8", 96)
        assert (video["frameWidth"], video["frameHeight"]) == (320, 240)
        assert report["played"]["width"] == 320  # the <video> element got pictures
        relay = result["relay"]
        assert relay["joined"] == 1 and relay["forwarded"] >= 30
        assert relay["decoded"] == 0 and relay["decode_mode"] == "encoded"  # forwarded as is
    except (AssertionError, KeyError, TypeError) as exc:
        raise AssertionError(f"{exc!r}\n{explain(result)}") from None
