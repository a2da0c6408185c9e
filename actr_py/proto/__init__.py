"""Generated protobuf modules (``make proto``); do not edit by hand."""

from . import actr_pb2, options_pb2, package_pb2, signaling_pb2, webrtc_pb2

__all__ = ["actr_pb2", "options_pb2", "package_pb2", "signaling_pb2", "webrtc_pb2"]
