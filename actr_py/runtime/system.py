"""ActrSystem: configuration and shared infrastructure for one node."""

from __future__ import annotations

from pathlib import Path

from ..config import ActrConfig, load_config
from ..errors import StateError
from ..wire.inproc import InprocHub, default_hub
from .node import ActrNode
from .workload import Workload

__all__ = ["ActrSystem"]


class ActrSystem:
    """Holds a node's config; :meth:`attach` binds a workload to it, once.

    Nodes whose systems share a hub (by default the process-wide one) reach
    each other in process without any network.
    """

    def __init__(self, config: ActrConfig | str, *, hub: InprocHub | None = None) -> None:
        if isinstance(config, str):
            config = ActrConfig(actr_type=config)
        if not isinstance(config, ActrConfig):
            raise TypeError(f"ActrSystem needs an ActrConfig, got {type(config).__name__}")
        self.config = config
        self.hub = hub or default_hub()
        self._node: ActrNode | None = None
        config.apply_logging()

    @classmethod
    def from_toml(cls, path: str | Path, *, hub: InprocHub | None = None) -> ActrSystem:
        return cls(load_config(path), hub=hub)

    def attach(self, workload: Workload) -> ActrNode:
        if self._node is not None:
            raise StateError("this ActrSystem already has a workload attached")
        self._node = ActrNode(self, workload)
        return self._node
