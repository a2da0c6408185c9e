"""Signaling: the node's link to the signaling server (registration, discovery, relay).

* :class:`SignalingClient` - what a node owns; see :mod:`.client`.
* :class:`Backoff`, :class:`Correlator` - its pure parts, reusable and tested alone.
* :mod:`.envelope` - envelope helpers shared with ``signaling_server``.
"""

from __future__ import annotations

from .backoff import Backoff
from .client import LoadProvider, SignalingClient
from .correlation import Correlator

__all__ = ["Backoff", "Correlator", "LoadProvider", "SignalingClient"]
