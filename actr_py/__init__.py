"""actr_py: an actor runtime for RPC, data streams and media between actors.

In one process, across processes over WebSocket, and peer to peer over WebRTC.
"""

from .config import ActrConfig
from .errors import (
    ActrError,
    BadRequest,
    ConfigError,
    DeadlineExceeded,
    Forbidden,
    InternalError,
    InvalidId,
    LocalError,
    NotFound,
    RemoteError,
    Unauthorized,
    Unavailable,
)
from .ids import ActorId, ActrTypeName
from .payload_type import PayloadType
from .proto.package_pb2 import DataStream
from .runtime import ActrNode, ActrRef, ActrSystem, Context, Dest, Workload, handler

__version__ = "0.1.0"

__all__ = [
    "ActorId",
    "ActrConfig",
    "ActrError",
    "ActrNode",
    "ActrRef",
    "ActrSystem",
    "ActrTypeName",
    "BadRequest",
    "ConfigError",
    "Context",
    "DataStream",
    "DeadlineExceeded",
    "Dest",
    "Forbidden",
    "InternalError",
    "InvalidId",
    "LocalError",
    "NotFound",
    "PayloadType",
    "RemoteError",
    "Unauthorized",
    "Unavailable",
    "Workload",
    "handler",
]
