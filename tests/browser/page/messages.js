// The actr / signaling / webrtc messages the page sends and reads, written
// from the field numbers in proto/*.proto (packages actr, signaling, webrtc).
// Only the fields the page uses are encoded or decoded; anything else that
// arrives is skipped by the parser.

import { Writer, parse } from "./protobuf.js";

export const ENVELOPE_VERSION = 1;

// actr.Direction
export const Direction = { UNSPECIFIED: 0, REQUEST: 1, RESPONSE: 2, TELL: 3 };
// webrtc.SessionDescription.Type
export const SdpType = { OFFER: 0, ANSWER: 1, RENEGOTIATION_OFFER: 2, ICE_RESTART_OFFER: 3 };

// ---- actr core types --------------------------------------------------------

/** "acme+echo" -> {manufacturer, name} */
export function parseType(text) {
  const plus = text.indexOf("+");
  if (plus <= 0 || plus === text.length - 1) throw new Error(`bad actr type ${text}`);
  return { manufacturer: text.slice(0, plus), name: text.slice(plus + 1) };
}

// actr.ActrType: 1 manufacturer, 2 name, 3 version (optional, unused)
export function actrType(type) {
  return new Writer().string(1, type.manufacturer).string(2, type.name);
}

// actr.Realm: 1 realm_id
export function realm(realmId) {
  return new Writer().uint(1, realmId);
}

/** actr.ActrId: 1 Realm realm, 2 uint64 serial_number, 3 ActrType type */
export function decodeActrId(fields) {
  const type = fields.message(3);
  const id = {
    realm: fields.message(1).uint(1),
    serial: fields.big(2),
    manufacturer: type.string(1),
    name: type.string(2),
  };
  // The canonical string form: <serial hex>@<realm>:<manufacturer>+<name>
  id.text = `${id.serial.toString(16)}@${id.realm}:${id.manufacturer}+${id.name}`;
  return id;
}

export function actrId(id) {
  return new Writer()
    .message(1, realm(id.realm))
    .uint(2, id.serial)
    .message(3, actrType(id));
}

// actr.ErrorResponse: 1 code, 2 message
export function decodeError(fields) {
  return fields === undefined ? undefined : { code: fields.uint(1), message: fields.string(2) };
}

function errorText(fields) {
  const error = decodeError(fields);
  return error === undefined ? "no error given" : `${error.code} ${error.message}`;
}

// ---- signaling envelope ---------------------------------------------------------

// signaling.SignalingEnvelope: 1 envelope_version, 2 envelope_id, 3 reply_for,
// 4 timestamp, oneof flow {10 peer_to_server, 11 actr_to_server,
// 12 server_to_actr, 13 actr_relay, 14 envelope_error}
export const Flow = {
  PEER_TO_SERVER: 10,
  ACTR_TO_SERVER: 11,
  SERVER_TO_ACTR: 12,
  ACTR_RELAY: 13,
  ENVELOPE_ERROR: 14,
};

export function envelope(envelopeId, flowField, flow) {
  return new Writer()
    .uint(1, ENVELOPE_VERSION)
    .string(2, envelopeId)
    .message(flowField, flow)
    .finish();
}

export function decodeEnvelope(bytes) {
  const f = parse(bytes);
  const env = { id: f.string(2), replyFor: f.string(3), flow: null, body: undefined };
  for (const field of Object.values(Flow)) {
    if (f.has(field)) {
      env.flow = field;
      env.body = f.message(field);
    }
  }
  return env;
}

// signaling.PeerToSignaling: oneof {1 actr.RegisterRequest}
// actr.RegisterRequest: 1 ActrType actr_type, 2 Realm realm, 3 service_spec, 4 acl
export function registerRequest(type, realmId) {
  const request = new Writer().message(1, actrType(type)).message(2, realm(realmId));
  return new Writer().message(1, request);
}

// signaling.ActrToSignaling: 1 ActrId source, 2 AIdCredential credential,
// oneof {4 Ping, 11 RouteCandidatesRequest, ...}
function actrToServer(self, payloadField, payload) {
  return new Writer()
    .message(1, self.idBytes)
    .message(2, self.credentialBytes)
    .message(payloadField, payload);
}

// actr.RouteCandidatesRequest: 1 ActrType target_type,
// 2 NodeSelectionCriteria criteria {1 candidate_count}, 4 client_fingerprint (required, may be empty)
export function routeCandidatesRequest(self, targetType, count) {
  const criteria = new Writer().uint(1, count);
  const request = new Writer()
    .message(1, actrType(targetType))
    .message(2, criteria)
    .string(4, "");
  return actrToServer(self, 11, request);
}

// actr.Ping: 1 ServiceAvailabilityState availability (FULL=0), 2 float
// power_reserve, 3 float mailbox_backlog
export function ping(self) {
  const body = new Writer().uint(1, 0).float(2, 1.0).float(3, 0.0);
  return actrToServer(self, 4, body);
}

// signaling.SignalingToActr: 1 ActrId target, oneof {2 RegisterResponse,
// 4 Pong, 11 RouteCandidatesResponse, 30 ErrorResponse, ...}
//
// actr.RegisterResponse: oneof {1 RegisterOk success, 2 ErrorResponse error}
// RegisterOk: 1 ActrId actr_id, 2 AIdCredential credential, 3 bytes psk,
// 4 credential_expires_at, 5 uint32 signaling_heartbeat_interval_secs
export function decodeRegisterResponse(serverToActr) {
  const response = serverToActr.message(2);
  if (response === undefined) throw new Error(`no RegisterResponse: ${describeError(serverToActr)}`);
  const ok = response.message(1);
  if (ok === undefined) throw new Error(`register refused: ${errorText(response.message(2))}`);
  return {
    id: decodeActrId(ok.message(1)),
    // Kept as encoded bytes: the page only ever echoes them back.
    idBytes: ok.bytes(1),
    credentialBytes: ok.bytes(2),
    heartbeatSecs: ok.uint(5, 30),
  };
}

// actr.RouteCandidatesResponse: oneof {1 RouteCandidatesOk success, 2 ErrorResponse error}
// RouteCandidatesOk: 1 repeated ActrId candidates, ...
export function decodeRouteCandidates(serverToActr) {
  const response = serverToActr.message(11);
  if (response === undefined) throw new Error(`no RouteCandidatesResponse: ${describeError(serverToActr)}`);
  const ok = response.message(1);
  if (ok === undefined) throw new Error(`route candidates refused: ${errorText(response.message(2))}`);
  const raw = ok.values.get(1) ?? [];
  return raw.map((bytes) => ({ ...decodeActrId(parse(bytes)), bytes }));
}

function describeError(serverToActr) {
  const error = decodeError(serverToActr.message(30));
  return error === undefined ? "unexpected reply" : `${error.code} ${error.message}`;
}

// ---- relay (WebRTC negotiation) -------------------------------------------------

// signaling.ActrRelay: 1 ActrId source, 2 AIdCredential credential, 3 ActrId target,
// oneof {10 webrtc.IceCandidate, 11 webrtc.SessionDescription,
//        12 actr.RoleNegotiation, 13 actr.RoleAssignment}
export const Relay = {
  ICE_CANDIDATE: 10,
  SESSION_DESCRIPTION: 11,
  ROLE_NEGOTIATION: 12,
  ROLE_ASSIGNMENT: 13,
};

export function relay(self, target, payloadField, payload) {
  return new Writer()
    .message(1, self.idBytes)
    .message(2, self.credentialBytes)
    .message(3, target.bytes)
    .message(payloadField, payload);
}

// actr.RoleNegotiation: 1 ActrId from, 2 ActrId to, 3 uint32 realm_id
export function roleNegotiation(self, target) {
  return new Writer().message(1, self.idBytes).message(2, target.bytes).uint(3, self.id.realm);
}

// webrtc.SessionDescription: 1 Type type, 2 string sdp
export function sessionDescription(type, sdp) {
  return new Writer().uint(1, type).string(2, sdp);
}

// webrtc.IceCandidate: 1 candidate, 2 sdp_mid, 3 sdp_mline_index, 4 username_fragment
export function iceCandidate(candidate) {
  const w = new Writer().string(1, candidate.candidate);
  if (candidate.sdpMid != null) w.string(2, candidate.sdpMid);
  if (candidate.sdpMLineIndex != null) w.uint(3, candidate.sdpMLineIndex);
  if (candidate.usernameFragment != null) w.string(4, candidate.usernameFragment);
  return w;
}

/** An inbound ActrRelay -> {source, kind, ...payload} */
export function decodeRelay(body) {
  const out = { source: decodeActrId(body.message(1)) };
  if (body.has(Relay.SESSION_DESCRIPTION)) {
    const sd = body.message(Relay.SESSION_DESCRIPTION);
    return { ...out, kind: "sdp", type: sd.uint(1), sdp: sd.string(2) };
  }
  if (body.has(Relay.ICE_CANDIDATE)) {
    const c = body.message(Relay.ICE_CANDIDATE);
    return {
      ...out,
      kind: "candidate",
      candidate: c.string(1),
      sdpMid: c.has(2) ? c.string(2) : null,
      sdpMLineIndex: c.has(3) ? c.uint(3) : null,
      usernameFragment: c.has(4) ? c.string(4) : null,
    };
  }
  if (body.has(Relay.ROLE_ASSIGNMENT)) {
    // actr.RoleAssignment: 1 bool is_offerer, 2 bool remote_fixed
    const r = body.message(Relay.ROLE_ASSIGNMENT);
    return { ...out, kind: "role", isOfferer: r.bool(1), remoteFixed: r.bool(2) };
  }
  if (body.has(Relay.ROLE_NEGOTIATION)) return { ...out, kind: "role-negotiation" };
  return { ...out, kind: "unknown" };
}

// ---- data plane ---------------------------------------------------------------

// actr.RpcEnvelope: 1 route_key, 2 bytes payload, 3 ErrorResponse error,
// 4 Direction direction, 100 traceparent, 101 tracestate, 102 request_id,
// 103 repeated MetadataEntry metadata, 104 int64 timeout_ms
export function rpcRequest({ routeKey, payload, requestId, timeoutMs }) {
  return new Writer()
    .string(1, routeKey)
    .bytes(2, payload)
    .uint(4, Direction.REQUEST)
    .string(102, requestId)
    .uint(104, timeoutMs)
    .finish();
}

export function decodeRpc(bytes) {
  const f = parse(bytes);
  return {
    routeKey: f.string(1),
    payload: f.has(2) ? f.bytes(2) : null,
    error: decodeError(f.message(3)),
    direction: f.uint(4),
    requestId: f.string(102),
    timeoutMs: Number(f.big(104)),
  };
}
