"""Outbound gate: lanes out of the node, and the table of calls awaiting replies."""

from .out_gate import OutGate
from .pending import PendingCallTable

__all__ = ["OutGate", "PendingCallTable"]
