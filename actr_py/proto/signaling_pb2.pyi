import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import actr_pb2 as _actr_pb2
from . import webrtc_pb2 as _webrtc_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PeerToSignaling(_message.Message):
    __slots__ = ("register_request",)
    REGISTER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    register_request: _actr_pb2.RegisterRequest
    def __init__(self, register_request: _Optional[_Union[_actr_pb2.RegisterRequest, _Mapping]] = ...) -> None: ...

class ActrToSignaling(_message.Message):
    __slots__ = ("source", "credential", "unregister_request", "ping", "credential_update_request", "discovery_request", "route_candidates_request", "get_service_spec_request", "subscribe_actr_up_request", "unsubscribe_actr_up_request", "error", "get_endpoint_request", "actor_placement_request")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    UNREGISTER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_UPDATE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_REQUEST_FIELD_NUMBER: _ClassVar[int]
    ROUTE_CANDIDATES_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_SERVICE_SPEC_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_ACTR_UP_REQUEST_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_ACTR_UP_REQUEST_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GET_ENDPOINT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    ACTOR_PLACEMENT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    source: _actr_pb2.ActrId
    credential: _actr_pb2.AIdCredential
    unregister_request: _actr_pb2.UnregisterRequest
    ping: _actr_pb2.Ping
    credential_update_request: _actr_pb2.CredentialUpdateRequest
    discovery_request: _actr_pb2.DiscoveryRequest
    route_candidates_request: _actr_pb2.RouteCandidatesRequest
    get_service_spec_request: _actr_pb2.GetServiceSpecRequest
    subscribe_actr_up_request: _actr_pb2.SubscribeActrUpRequest
    unsubscribe_actr_up_request: _actr_pb2.UnsubscribeActrUpRequest
    error: _actr_pb2.ErrorResponse
    get_endpoint_request: _actr_pb2.GetEndpointRequest
    actor_placement_request: _actr_pb2.ActorPlacementRequest
    def __init__(self, source: _Optional[_Union[_actr_pb2.ActrId, _Mapping]] = ..., credential: _Optional[_Union[_actr_pb2.AIdCredential, _Mapping]] = ..., unregister_request: _Optional[_Union[_actr_pb2.UnregisterRequest, _Mapping]] = ..., ping: _Optional[_Union[_actr_pb2.Ping, _Mapping]] = ..., credential_update_request: _Optional[_Union[_actr_pb2.CredentialUpdateRequest, _Mapping]] = ..., discovery_request: _Optional[_Union[_actr_pb2.DiscoveryRequest, _Mapping]] = ..., route_candidates_request: _Optional[_Union[_actr_pb2.RouteCandidatesRequest, _Mapping]] = ..., get_service_spec_request: _Optional[_Union[_actr_pb2.GetServiceSpecRequest, _Mapping]] = ..., subscribe_actr_up_request: _Optional[_Union[_actr_pb2.SubscribeActrUpRequest, _Mapping]] = ..., unsubscribe_actr_up_request: _Optional[_Union[_actr_pb2.UnsubscribeActrUpRequest, _Mapping]] = ..., error: _Optional[_Union[_actr_pb2.ErrorResponse, _Mapping]] = ..., get_endpoint_request: _Optional[_Union[_actr_pb2.GetEndpointRequest, _Mapping]] = ..., actor_placement_request: _Optional[_Union[_actr_pb2.ActorPlacementRequest, _Mapping]] = ...) -> None: ...

class SignalingToActr(_message.Message):
    __slots__ = ("target", "register_response", "unregister_response", "pong", "discovery_response", "route_candidates_response", "get_service_spec_response", "subscribe_actr_up_response", "unsubscribe_actr_up_response", "actr_up_event", "error", "get_endpoint_response", "actor_placement_response")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REGISTER_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    UNREGISTER_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_CANDIDATES_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    GET_SERVICE_SPEC_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_ACTR_UP_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_ACTR_UP_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ACTR_UP_EVENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GET_ENDPOINT_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_PLACEMENT_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    target: _actr_pb2.ActrId
    register_response: _actr_pb2.RegisterResponse
    unregister_response: _actr_pb2.UnregisterResponse
    pong: _actr_pb2.Pong
    discovery_response: _actr_pb2.DiscoveryResponse
    route_candidates_response: _actr_pb2.RouteCandidatesResponse
    get_service_spec_response: _actr_pb2.GetServiceSpecResponse
    subscribe_actr_up_response: _actr_pb2.SubscribeActrUpResponse
    unsubscribe_actr_up_response: _actr_pb2.UnsubscribeActrUpResponse
    actr_up_event: _actr_pb2.ActrUpEvent
    error: _actr_pb2.ErrorResponse
    get_endpoint_response: _actr_pb2.GetEndpointResponse
    actor_placement_response: _actr_pb2.ActorPlacementResponse
    def __init__(self, target: _Optional[_Union[_actr_pb2.ActrId, _Mapping]] = ..., register_response: _Optional[_Union[_actr_pb2.RegisterResponse, _Mapping]] = ..., unregister_response: _Optional[_Union[_actr_pb2.UnregisterResponse, _Mapping]] = ..., pong: _Optional[_Union[_actr_pb2.Pong, _Mapping]] = ..., discovery_response: _Optional[_Union[_actr_pb2.DiscoveryResponse, _Mapping]] = ..., route_candidates_response: _Optional[_Union[_actr_pb2.RouteCandidatesResponse, _Mapping]] = ..., get_service_spec_response: _Optional[_Union[_actr_pb2.GetServiceSpecResponse, _Mapping]] = ..., subscribe_actr_up_response: _Optional[_Union[_actr_pb2.SubscribeActrUpResponse, _Mapping]] = ..., unsubscribe_actr_up_response: _Optional[_Union[_actr_pb2.UnsubscribeActrUpResponse, _Mapping]] = ..., actr_up_event: _Optional[_Union[_actr_pb2.ActrUpEvent, _Mapping]] = ..., error: _Optional[_Union[_actr_pb2.ErrorResponse, _Mapping]] = ..., get_endpoint_response: _Optional[_Union[_actr_pb2.GetEndpointResponse, _Mapping]] = ..., actor_placement_response: _Optional[_Union[_actr_pb2.ActorPlacementResponse, _Mapping]] = ...) -> None: ...

class ActrRelay(_message.Message):
    __slots__ = ("source", "credential", "target", "ice_candidate", "session_description", "role_negotiation", "role_assignment")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ICE_CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    SESSION_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ROLE_NEGOTIATION_FIELD_NUMBER: _ClassVar[int]
    ROLE_ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    source: _actr_pb2.ActrId
    credential: _actr_pb2.AIdCredential
    target: _actr_pb2.ActrId
    ice_candidate: _webrtc_pb2.IceCandidate
    session_description: _webrtc_pb2.SessionDescription
    role_negotiation: _actr_pb2.RoleNegotiation
    role_assignment: _actr_pb2.RoleAssignment
    def __init__(self, source: _Optional[_Union[_actr_pb2.ActrId, _Mapping]] = ..., credential: _Optional[_Union[_actr_pb2.AIdCredential, _Mapping]] = ..., target: _Optional[_Union[_actr_pb2.ActrId, _Mapping]] = ..., ice_candidate: _Optional[_Union[_webrtc_pb2.IceCandidate, _Mapping]] = ..., session_description: _Optional[_Union[_webrtc_pb2.SessionDescription, _Mapping]] = ..., role_negotiation: _Optional[_Union[_actr_pb2.RoleNegotiation, _Mapping]] = ..., role_assignment: _Optional[_Union[_actr_pb2.RoleAssignment, _Mapping]] = ...) -> None: ...

class SignalingEnvelope(_message.Message):
    __slots__ = ("envelope_version", "envelope_id", "reply_for", "timestamp", "traceparent", "tracestate", "peer_to_server", "actr_to_server", "server_to_actr", "actr_relay", "envelope_error")
    ENVELOPE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLY_FOR_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TRACESTATE_FIELD_NUMBER: _ClassVar[int]
    PEER_TO_SERVER_FIELD_NUMBER: _ClassVar[int]
    ACTR_TO_SERVER_FIELD_NUMBER: _ClassVar[int]
    SERVER_TO_ACTR_FIELD_NUMBER: _ClassVar[int]
    ACTR_RELAY_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_ERROR_FIELD_NUMBER: _ClassVar[int]
    envelope_version: int
    envelope_id: str
    reply_for: str
    timestamp: _timestamp_pb2.Timestamp
    traceparent: str
    tracestate: str
    peer_to_server: PeerToSignaling
    actr_to_server: ActrToSignaling
    server_to_actr: SignalingToActr
    actr_relay: ActrRelay
    envelope_error: _actr_pb2.ErrorResponse
    def __init__(self, envelope_version: _Optional[int] = ..., envelope_id: _Optional[str] = ..., reply_for: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ..., tracestate: _Optional[str] = ..., peer_to_server: _Optional[_Union[PeerToSignaling, _Mapping]] = ..., actr_to_server: _Optional[_Union[ActrToSignaling, _Mapping]] = ..., server_to_actr: _Optional[_Union[SignalingToActr, _Mapping]] = ..., actr_relay: _Optional[_Union[ActrRelay, _Mapping]] = ..., envelope_error: _Optional[_Union[_actr_pb2.ErrorResponse, _Mapping]] = ...) -> None: ...
