from . import actr_pb2 as _actr_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PayloadType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RPC_RELIABLE: _ClassVar[PayloadType]
    RPC_SIGNAL: _ClassVar[PayloadType]
    STREAM_RELIABLE: _ClassVar[PayloadType]
    STREAM_LATENCY_FIRST: _ClassVar[PayloadType]
    MEDIA_RTP: _ClassVar[PayloadType]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    DIRECTION_REQUEST: _ClassVar[Direction]
    DIRECTION_RESPONSE: _ClassVar[Direction]
    DIRECTION_TELL: _ClassVar[Direction]
RPC_RELIABLE: PayloadType
RPC_SIGNAL: PayloadType
STREAM_RELIABLE: PayloadType
STREAM_LATENCY_FIRST: PayloadType
MEDIA_RTP: PayloadType
DIRECTION_UNSPECIFIED: Direction
DIRECTION_REQUEST: Direction
DIRECTION_RESPONSE: Direction
DIRECTION_TELL: Direction

class MetadataEntry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class RpcEnvelope(_message.Message):
    __slots__ = ("route_key", "payload", "error", "direction", "traceparent", "tracestate", "request_id", "metadata", "timeout_ms")
    ROUTE_KEY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TRACESTATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    route_key: str
    payload: bytes
    error: _actr_pb2.ErrorResponse
    direction: Direction
    traceparent: str
    tracestate: str
    request_id: str
    metadata: _containers.RepeatedCompositeFieldContainer[MetadataEntry]
    timeout_ms: int
    def __init__(self, route_key: _Optional[str] = ..., payload: _Optional[bytes] = ..., error: _Optional[_Union[_actr_pb2.ErrorResponse, _Mapping]] = ..., direction: _Optional[_Union[Direction, str]] = ..., traceparent: _Optional[str] = ..., tracestate: _Optional[str] = ..., request_id: _Optional[str] = ..., metadata: _Optional[_Iterable[_Union[MetadataEntry, _Mapping]]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class DataStream(_message.Message):
    __slots__ = ("stream_id", "sequence", "payload", "metadata", "timestamp_ms")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    sequence: int
    payload: bytes
    metadata: _containers.RepeatedCompositeFieldContainer[MetadataEntry]
    timestamp_ms: int
    def __init__(self, stream_id: _Optional[str] = ..., sequence: _Optional[int] = ..., payload: _Optional[bytes] = ..., metadata: _Optional[_Iterable[_Union[MetadataEntry, _Mapping]]] = ..., timestamp_ms: _Optional[int] = ...) -> None: ...

class LaneHello(_message.Message):
    __slots__ = ("actr_id", "credential")
    ACTR_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    actr_id: _actr_pb2.ActrId
    credential: _actr_pb2.AIdCredential
    def __init__(self, actr_id: _Optional[_Union[_actr_pb2.ActrId, _Mapping]] = ..., credential: _Optional[_Union[_actr_pb2.AIdCredential, _Mapping]] = ...) -> None: ...
