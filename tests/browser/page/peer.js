// One RTCPeerConnection to one actr peer, negotiated through signaling relays.
//
// Plain actr peer: the page opens (as offerer) or accepts (as answerer) one
// DataChannel per PayloadType, labelled with the enum name, with an EMPTY
// `protocol`, and puts exactly one protobuf message in each DataChannel
// message. It never speaks on `actr-py.control`, so an actr_py node falls
// back to plain mode.
//
// Loopback only: every ICE candidate is filtered to UDP host candidates on
// 127.0.0.1, both ours before they are relayed (and in the SDP we send) and
// the peer's before they are applied (trickled or in its SDP). Nothing else
// is ever offered to, or accepted from, the other side.

import * as msg from "./messages.js";

export const LANES = [
  { label: "RPC_RELIABLE", ordered: true, maxRetransmits: null },
  { label: "RPC_SIGNAL", ordered: true, maxRetransmits: null },
  { label: "STREAM_RELIABLE", ordered: true, maxRetransmits: null },
  { label: "STREAM_LATENCY_FIRST", ordered: false, maxRetransmits: 3 },
];

const LOOPBACK = "127.0.0.1";

/** "candidate:<foundation> <component> <protocol> <priority> <address> <port> typ <type> ..." */
export function parseCandidate(text) {
  const parts = text.replace(/^a=/, "").replace(/^candidate:/, "").trim().split(/\s+/);
  return {
    protocol: (parts[2] ?? "").toLowerCase(),
    address: parts[4] ?? "",
    port: Number(parts[5]),
    type: parts[6] === "typ" ? parts[7] : "",
  };
}

export function isLoopbackUdpHost(text) {
  const c = parseCandidate(text);
  return c.protocol === "udp" && c.address === LOOPBACK && c.type === "host";
}

/** The SDP without any a=candidate line that is not a loopback UDP host candidate. */
export function loopbackOnlySdp(sdp) {
  const lines = sdp.split("\r\n");
  const kept = lines.filter((line) => !line.startsWith("a=candidate:") || isLoopbackUdpHost(line));
  return { sdp: kept.join("\r\n"), stripped: lines.length - kept.length };
}

const utf8 = new TextEncoder();

export class PeerLink {
  #queue = Promise.resolve(); // relays are handled one at a time, in order
  #remoteSet = false;
  #early = []; // peer candidates that came before its description
  #pendingCalls = new Map(); // request_id -> {resolve, reject, timer}
  #nextCall = 0;
  #failed = null;
  #laneWaiters = [];

  constructor(signaling, target, log) {
    this.signaling = signaling;
    this.target = target;
    this.log = log;
    this.role = null;
    this.channels = new Map(); // label -> RTCDataChannel
    this.channelLog = []; // what each channel looked like when it appeared
    this.candidates = {
      gathered: [], // every local candidate Chromium found
      relayed: [], // those we trickled to the peer (loopback UDP host only)
      strippedFromSdp: 0, // a=candidate lines removed from the SDP we sent
      remoteInSdp: [], // the peer's candidates kept in its SDP
      remoteApplied: [], // the peer's trickled candidates we applied
      remoteRefused: [], // the peer's candidates (SDP or trickled) we dropped
    };
    this.unexpected = []; // lane messages that were not responses to our calls
    this.ignored = {}; // label -> messages received on channels that are not lanes
    this.pc = new RTCPeerConnection({ iceServers: [] });
    this.pc.onicecandidate = (e) => this.#onLocalCandidate(e.candidate);
    this.pc.ondatachannel = (e) => this.#adopt(e.channel, "peer");
    this.pc.onconnectionstatechange = () => {
      this.log(`peer connection: ${this.pc.connectionState}`);
      if (this.pc.connectionState === "failed") this.#fail(new Error("peer connection failed"));
    };
  }

  // ---- negotiation --------------------------------------------------------

  /** Feed one relay from signaling (SDP, ICE candidate, role). */
  onRelay(relay) {
    if (relay.source.text !== this.target.text) {
      this.log(`relay from unexpected ${relay.source.text} ignored`);
      return;
    }
    this.#queue = this.#queue.then(() => this.#handle(relay)).catch((e) => this.#fail(e));
  }

  async #handle(relay) {
    if (relay.kind === "sdp") {
      const sdp = this.#acceptRemoteSdp(relay.sdp);
      if (relay.type === msg.SdpType.ANSWER) {
        this.log("answer received");
        await this.pc.setRemoteDescription({ type: "answer", sdp });
      } else {
        this.log(`offer received (type ${relay.type})`);
        await this.pc.setRemoteDescription({ type: "offer", sdp });
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        this.#sendDescription(msg.SdpType.ANSWER);
      }
      this.#remoteSet = true;
      for (const c of this.#early.splice(0)) await this.#applyRemoteCandidate(c);
    } else if (relay.kind === "candidate") {
      this.log(`peer candidate: ${relay.candidate || "(end of candidates)"}`);
      if (this.#remoteSet) await this.#applyRemoteCandidate(relay);
      else this.#early.push(relay);
    } else if (relay.kind === "role") {
      this.log(`role assignment relayed: offerer=${relay.isOfferer}`);
    } else {
      this.log(`relay ${relay.kind} ignored`);
    }
  }

  /** The peer's SDP with only its loopback UDP host candidates left in it. */
  #acceptRemoteSdp(sdp) {
    for (const line of sdp.split("\r\n")) {
      if (!line.startsWith("a=candidate:")) continue;
      const text = line.slice(2);
      (isLoopbackUdpHost(text) ? this.candidates.remoteInSdp : this.candidates.remoteRefused).push(text);
    }
    return loopbackOnlySdp(sdp).sdp;
  }

  async #applyRemoteCandidate(c) {
    if (c.candidate === "") {
      try {
        await this.pc.addIceCandidate({ candidate: "", sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex });
      } catch (e) {
        this.log(`end-of-candidates not applied: ${e}`);
      }
      return;
    }
    if (!isLoopbackUdpHost(c.candidate)) {
      this.candidates.remoteRefused.push(c.candidate);
      return;
    }
    this.candidates.remoteApplied.push(c.candidate);
    await this.pc.addIceCandidate({
      candidate: c.candidate,
      sdpMid: c.sdpMid,
      sdpMLineIndex: c.sdpMLineIndex,
      usernameFragment: c.usernameFragment,
    });
  }

  #onLocalCandidate(candidate) {
    if (candidate === null) {
      // End of candidates, in our relay convention an empty candidate string.
      const sdp = this.pc.localDescription?.sdp ?? "";
      this.signaling.relay(this.target, msg.Relay.ICE_CANDIDATE, msg.iceCandidate({
        candidate: "",
        sdpMid: /^a=mid:(\S+)/m.exec(sdp)?.[1] ?? "0",
        sdpMLineIndex: 0,
        usernameFragment: /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? null,
      }));
      return;
    }
    this.candidates.gathered.push(candidate.candidate);
    if (!candidate.candidate || !isLoopbackUdpHost(candidate.candidate)) return;
    this.candidates.relayed.push(candidate.candidate);
    this.signaling.relay(this.target, msg.Relay.ICE_CANDIDATE, msg.iceCandidate(candidate));
  }

  #sendDescription(type) {
    const { sdp, stripped } = loopbackOnlySdp(this.pc.localDescription.sdp);
    this.candidates.strippedFromSdp += stripped;
    this.signaling.relay(this.target, msg.Relay.SESSION_DESCRIPTION, msg.sessionDescription(type, sdp));
  }

  /** Offer (opening the lane channels first) or wait for the peer's offer. */
  async start(isOfferer) {
    this.role = isOfferer ? "offerer" : "answerer";
    if (!isOfferer) return; // the offer arrives as a relay
    for (const lane of LANES) {
      const options = { ordered: lane.ordered, protocol: "" };
      if (lane.maxRetransmits !== null) options.maxRetransmits = lane.maxRetransmits;
      this.#adopt(this.pc.createDataChannel(lane.label, options), "browser");
    }
    await this.pc.setLocalDescription(await this.pc.createOffer());
    this.#sendDescription(msg.SdpType.OFFER);
    this.log("offer sent");
  }

  // ---- channels -----------------------------------------------------------

  #adopt(channel, openedBy) {
    channel.binaryType = "arraybuffer";
    this.channelLog.push({
      label: channel.label,
      openedBy,
      ordered: channel.ordered,
      maxRetransmits: channel.maxRetransmits,
      maxPacketLifeTime: channel.maxPacketLifeTime,
      protocol: channel.protocol,
      negotiated: channel.negotiated,
    });
    this.log(`channel ${channel.label} (${openedBy}, protocol ${JSON.stringify(channel.protocol)})`);
    if (!this.channels.has(channel.label)) this.channels.set(channel.label, channel);
    if (LANES.some((lane) => lane.label === channel.label)) {
      channel.onmessage = (e) => this.#onMessage(channel.label, e.data);
    } else {
      // actr-py.control (an actr_py offerer opens it and says HELLO there): a
      // plain peer never answers, which is how the node learns it is plain.
      channel.onmessage = () => { this.ignored[channel.label] = (this.ignored[channel.label] ?? 0) + 1; };
    }
    channel.onopen = () => this.#wakeLanes();
    this.#wakeLanes();
  }

  #wakeLanes() {
    for (const wake of this.#laneWaiters.splice(0)) wake();
  }

  /** Resolve once every lane channel exists and is open. */
  async lanesOpen(timeoutMs) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.#failed) throw this.#failed;
      const missing = LANES.filter((l) => this.channels.get(l.label)?.readyState !== "open");
      if (missing.length === 0) return;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`lanes not open: ${missing.map((l) => l.label).join(", ")}`);
      await new Promise((resolve) => {
        this.#laneWaiters.push(resolve);
        setTimeout(resolve, Math.min(left, 200));
      });
    }
  }

  // ---- RPC ----------------------------------------------------------------

  /** Send one request on lane `label`; resolve with the decoded response and its lane. */
  call(label, routeKey, text, timeoutMs) {
    const channel = this.channels.get(label);
    if (channel?.readyState !== "open") throw new Error(`lane ${label} not open`);
    const requestId = `browser-call-${++this.#nextCall}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pendingCalls.delete(requestId);
        reject(new Error(`no response to ${routeKey} on ${label} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pendingCalls.set(requestId, { resolve, reject, timer });
      channel.send(msg.rpcRequest({ routeKey, payload: utf8.encode(text), requestId, timeoutMs }));
    });
  }

  #onMessage(label, data) {
    const bytes = new Uint8Array(data instanceof ArrayBuffer ? data : utf8.encode(data));
    let rpc;
    try {
      rpc = msg.decodeRpc(bytes);
    } catch (e) {
      this.unexpected.push({ label, size: bytes.length, error: String(e) });
      return;
    }
    const call = this.#pendingCalls.get(rpc.requestId);
    if (rpc.direction !== msg.Direction.RESPONSE || call === undefined) {
      this.unexpected.push({ label, size: bytes.length, direction: rpc.direction, requestId: rpc.requestId });
      return;
    }
    this.#pendingCalls.delete(rpc.requestId);
    clearTimeout(call.timer);
    call.resolve({ ...rpc, lane: label, size: bytes.length });
  }

  #fail(error) {
    this.log(`link failed: ${error}`);
    this.#failed ??= error;
    for (const call of this.#pendingCalls.values()) {
      clearTimeout(call.timer);
      call.reject(error);
    }
    this.#pendingCalls.clear();
    this.#wakeLanes();
  }

  // ---- diagnostics ----------------------------------------------------------

  /** The ICE path from getStats: the selected pair and every pair tried. */
  async iceReport() {
    const stats = await this.pc.getStats();
    const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    const candidate = (id) => {
      const c = byId.get(id);
      return c && {
        address: c.address ?? c.ip ?? null,
        port: c.port,
        protocol: c.protocol,
        candidateType: c.candidateType,
        networkType: c.networkType ?? null,
      };
    };
    const pairs = [];
    let selected = null;
    stats.forEach((s) => {
      if (s.type === "candidate-pair") {
        pairs.push({
          id: s.id,
          local: candidate(s.localCandidateId),
          remote: candidate(s.remoteCandidateId),
          state: s.state,
          nominated: s.nominated,
          requestsSent: s.requestsSent,
          responsesReceived: s.responsesReceived,
          requestsReceived: s.requestsReceived,
          bytesSent: s.bytesSent,
          bytesReceived: s.bytesReceived,
        });
      }
      if (s.type === "transport" && s.selectedCandidatePairId) selected = s.selectedCandidatePairId;
    });
    return { selected: pairs.find((p) => p.id === selected) ?? null, pairs };
  }

  close() {
    for (const channel of this.channels.values()) channel.close();
    this.pc.close();
  }
}
