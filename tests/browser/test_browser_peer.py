"""A real browser as the other peer (issue 5).

Headless Chromium runs ``page/``: a plain actr peer written in JavaScript that
registers with the real signaling server, finds the node, lets the server
assign WebRTC roles, connects over DataChannels and calls the node's handler.
The node is a real actr_py node with WebRTC on. The run happens in
``scenario.py`` inside a private network namespace whose only interface is
``lo``; this file starts it, reads what both sides saw and asserts. See
README.md for how it works and why each Chromium flag is there.
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

from actr_py.ids import ActorId

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
LOOPBACK = "127.0.0.1"
#: Protocol reference, "Lanes on WebRTC": label -> (ordered, maxRetransmits).
LANE_OPTIONS = {
    "RPC_RELIABLE": (True, None),
    "RPC_SIGNAL": (True, None),
    "STREAM_RELIABLE": (True, None),
    "STREAM_LATENCY_FIRST": (False, 3),
}
CALLED_LANES = ("RPC_RELIABLE", "RPC_SIGNAL")  # scenario.LANES
SCENARIO_TIMEOUT = 20.0


def _require_tools() -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run tools/ensure_chromium.sh (as root) to install "
            "Debian's chromium, then run this test again"
        )
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (util-linux) is missing: the browser test runs in its own "
                    "network namespace so that nothing can use a non-loopback interface")
    probe = subprocess.run([unshare, "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail("cannot create a network namespace (needs root or CAP_SYS_ADMIN): "
                    f"unshare --net said {probe.stderr.strip()!r}")
    return unshare


def run_scenario(browser_role: str, tmp_path: Path) -> dict[str, Any]:
    """Run scenario.py in a fresh network namespace; return what it recorded."""
    unshare = _require_tools()
    out = tmp_path / "result.json"
    log = tmp_path / "scenario.log"
    cmd = [
        unshare, "--net", sys.executable, "-m", "tests.browser.scenario",
        "--browser-role", browser_role, "--workdir", str(tmp_path / "run"),
        "--out", str(out), "--timeout", str(SCENARIO_TIMEOUT),
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    with log.open("wb") as log_file:
        # unshare execs Python in place, so the group is the scenario's own:
        # killing it takes the signaling server along whatever happened.
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_file, stderr=log_file,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(SCENARIO_TIMEOUT + 15)
        except subprocess.TimeoutExpired:
            pass
        finally:
            _kill_leftovers(proc, tmp_path / "run" / "chromium.pgid")
    if not out.exists():
        pytest.fail(f"scenario wrote no result (exit {proc.returncode}):\n"
                    f"{log.read_text(errors='replace')[-4000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _kill_leftovers(proc: subprocess.Popen[bytes], chromium_pgid_file: Path) -> None:
    """Kill the scenario's process group and Chromium's (its own group)."""
    groups = [proc.pid]
    with contextlib.suppress(FileNotFoundError, ValueError):
        groups.append(int(chromium_pgid_file.read_text()))
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    proc.wait(10)


def _explain(result: dict[str, Any]) -> str:
    events = "\n".join(
        f"  {e.get('ms')} ms {e.get('text', e)}" for e in result.get("page_events", [])
    )
    report = result.get("report", {})
    return (
        f"scenario error: {result.get('error')}\n"
        f"node log (tail):\n{result.get('node_log', '')}\n"
        f"page error: {report.get('error')}\n{report.get('stack') or ''}\n"
        f"page events:\n{events}\n"
        f"chromium log (tail):\n{result.get('chromium_log', '')}"
    )


@pytest.mark.parametrize("browser_role", ["answerer", "offerer"])
def test_browser_calls_a_node_over_datachannels(browser_role: str, tmp_path: Path) -> None:
    result = run_scenario(browser_role, tmp_path)
    try:
        _check(browser_role, result)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_explain(result)}") from None


def _check(browser_role: str, result: dict[str, Any]) -> None:
    report = result.get("report") or {}
    assert "error" not in result and report.get("ok"), "the run failed"

    # Nothing but loopback existed for the browser, the node and the server.
    assert result["interfaces"] == ["lo"]
    assert result["chromium_exit"] is not None, "Chromium was not killed"

    browser_id = ActorId.parse(report["self"])
    node_id = ActorId.parse(result["node_id"])
    assert report["target"] == str(node_id)

    # Roles: assigned by the server, which makes the smaller ActorId offer;
    # the scenario's registration order decides which one that is.
    assert report["role"] == browser_role
    assert report["assignment"] == {"isOfferer": browser_role == "offerer",
                                    "remoteFixed": False}
    assert (browser_id < node_id) == (browser_role == "offerer")

    # The RPC: one request per lane, each answered on its own lane by the handler.
    assert [c["lane"] for c in report["calls"]] == list(CALLED_LANES)
    for index, call in enumerate(report["calls"], start=1):
        lane = call["lane"]
        assert call["responseLane"] == lane
        assert call["direction"] == 2  # DIRECTION_RESPONSE
        assert call["requestId"] == f"browser-call-{index}"
        assert call["error"] is None
        assert call["payload"] == (
            f"hello hi from chromium via {lane} | from {node_id} to {browser_id}"
        )
    assert report["unexpected"] == []
    calls = result["node_calls"]
    assert [c["caller"] for c in calls] == [str(browser_id)] * len(CALLED_LANES)
    assert [c["payload"] for c in calls] == [f"hi from chromium via {lane}"
                                             for lane in CALLED_LANES]

    # The node's side of the connection: WebRTC, plain mode (the browser never
    # said HELLO), the node offering exactly when the browser answers.
    node_view = calls[0]["connection"]
    assert node_view is not None, "the node had no WebRTC connection to the browser"
    assert node_view["kind"] == "webrtc"
    assert node_view["mode"] == "plain"
    assert node_view["offerer"] == (browser_role == "answerer")

    _check_channels(browser_role, report, node_view)
    _check_loopback_path(report, node_view)


def _check_channels(browser_role: str, report: dict[str, Any], node_view: dict[str, Any]) -> None:
    browser = {c["label"]: c for c in report["channels"]}
    node = {c["label"]: c for c in node_view["channels"]}
    assert len(browser) == len(report["channels"]), "a label was opened twice"
    for label, (ordered, max_retransmits) in LANE_OPTIONS.items():
        for side, channels in (("browser", browser), ("node", node)):
            assert label in channels, f"{side} has no {label} channel"
            channel = channels[label]
            assert channel["ordered"] is ordered, (side, channel)
            assert channel["maxRetransmits"] == max_retransmits, (side, channel)
        assert browser[label]["maxPacketLifeTime"] is None
        assert browser[label]["negotiated"] is False  # in-band (DCEP)
        assert node[label]["state"] == "open"
    if browser_role == "offerer":
        # The browser opened exactly the four lanes, plain actr: empty protocol.
        assert set(browser) == set(LANE_OPTIONS)
        for label in LANE_OPTIONS:
            assert browser[label]["openedBy"] == "browser"
            assert browser[label]["protocol"] == ""
            assert node[label]["protocol"] == ""
        assert set(node) == set(LANE_OPTIONS), "the node opened channels of its own"
    else:
        # The node offered: four lanes plus its control channel, offering actr-py/1;
        # the browser accepted them all and never answered the HELLO.
        assert set(browser) == {*LANE_OPTIONS, "actr-py.control"}
        for channel in browser.values():
            assert channel["openedBy"] == "peer"
            assert channel["protocol"] == "actr-py/1"
        assert report["ignored"].get("actr-py.control", 0) >= 1  # the node's HELLO


def _check_loopback_path(report: dict[str, Any], node_view: dict[str, Any]) -> None:
    candidates = report["candidates"]
    remote = candidates["remoteInSdp"] + candidates["remoteApplied"]
    assert candidates["relayed"], "the page relayed no candidate"
    assert remote, "the node announced no candidate"
    for text in candidates["relayed"] + remote:
        fields = text.split()
        assert (fields[2].lower(), fields[4], fields[7]) == ("udp", LOOPBACK, "host"), text
    assert candidates["remoteRefused"] == [], "the node offered a non-loopback candidate"
    assert candidates["strippedFromSdp"] == 0

    ice = report["ice"]
    selected = ice["selected"]
    assert selected is not None, f"no selected candidate pair: {ice}"
    # The state is that of the pair's latest check: a consent check in flight
    # shows "in-progress" on the pair that carries the data.
    assert selected["state"] in ("succeeded", "in-progress"), selected
    assert selected["nominated"] is True, selected
    assert selected["bytesSent"] > 0 and selected["bytesReceived"] > 0, selected
    for end in ("local", "remote"):
        assert selected[end]["address"] == LOOPBACK, selected
        assert selected[end]["protocol"] == "udp"
        assert selected[end]["candidateType"] == "host"
    for pair in ice["pairs"]:
        assert pair["local"]["address"] == pair["remote"]["address"] == LOOPBACK, pair

    assert "ice_error" not in node_view, node_view.get("ice_error")
    assert node_view["nominated"], "the node nominated no candidate pair"
    for local, remote in node_view["nominated"]:
        assert local == remote == LOOPBACK
    assert set(node_view["local_candidates"]) == {LOOPBACK}
    assert set(node_view["remote_candidates"]) == {LOOPBACK}
