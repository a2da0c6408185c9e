"""Workload layer: the user's actors and the system that runs them."""

from .context import Context
from .dest import Dest
from .node import ActrNode, NodeState
from .ref import ActrRef
from .system import ActrSystem
from .workload import HandlerSpec, Workload, handler

__all__ = [
    "ActrNode",
    "ActrRef",
    "ActrSystem",
    "Context",
    "Dest",
    "HandlerSpec",
    "NodeState",
    "Workload",
    "handler",
]
