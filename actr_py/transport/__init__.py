"""Transport layer: lanes over wires, the route table and the managers that pool them."""

from .lane import DataLane
from .manager import InprocTransportManager, TransportManager
from .route_table import LANE_KINDS, RouteTable

__all__ = ["LANE_KINDS", "DataLane", "InprocTransportManager", "RouteTable", "TransportManager"]
