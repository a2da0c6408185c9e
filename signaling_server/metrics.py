"""Counters served at ``GET /metrics`` in the Prometheus text format (0.0.4)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

__all__ = ["Metrics"]

_PREFIX = "actr_signaling_"


class Metrics:
    """Plain in-process counters; gauges are read from the live state on render."""

    def __init__(self) -> None:
        self.connections_total = 0
        self.registrations_total = 0
        self.restores_total = 0
        self.evictions_total = 0
        self.messages: Counter[str] = Counter()
        self.errors: Counter[int] = Counter()
        self.relays: Counter[str] = Counter()
        self.rejected_upgrades = 0

    def render(self, gauges: dict[str, tuple[str, Callable[[], float]]]) -> str:
        """Text exposition; ``gauges`` maps name -> (help, current value)."""
        out: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            out.append(f"# HELP {_PREFIX}{name} {help_}")
            out.append(f"# TYPE {_PREFIX}{name} {kind}")
            for labels, value in samples:
                out.append(f"{_PREFIX}{name}{labels} {value:g}")

        for name, (help_, read) in gauges.items():
            metric(name, "gauge", help_, [("", read())])
        metric("connections_total", "counter", "WebSocket connections accepted",
               [("", self.connections_total)])
        metric("rejected_upgrades_total", "counter",
               "WebSocket upgrades refused by the per-IP connection rate limit",
               [("", self.rejected_upgrades)])
        metric("registrations_total", "counter", "Actor ids issued",
               [("", self.registrations_total)])
        metric("restores_total", "counter", "Registrations restored by reconnect with a token",
               [("", self.restores_total)])
        metric("evictions_total", "counter", "Actors evicted for missing heartbeats",
               [("", self.evictions_total)])
        metric("messages_total", "counter", "Inbound envelopes by kind",
               [(f'{{kind="{k}"}}', v) for k, v in sorted(self.messages.items())])
        metric("errors_total", "counter", "Error replies sent, by actr code",
               [(f'{{code="{k}"}}', v) for k, v in sorted(self.errors.items())])
        metric("relays_total", "counter", "Relays delivered, by payload",
               [(f'{{kind="{k}"}}', v) for k, v in sorted(self.relays.items())])
        return "\n".join(out) + "\n"
