// The page's signaling client: one WebSocket, binary frames, one
// SignalingEnvelope per frame. Requests are matched to replies by reply_for;
// everything else that arrives as an ActrRelay goes to `onRelay`.

import * as msg from "./messages.js";

export class Signaling {
  #ws = null;
  #pending = new Map(); // envelope id -> {resolve, reject, timer}
  #next = 0;
  #prefix = `browser-${Math.random().toString(16).slice(2, 10)}`;
  #heartbeat = null;
  self = null; // {id, idBytes, credentialBytes, heartbeatSecs} once registered
  onRelay = () => {};

  constructor(url, log) {
    this.url = url;
    this.log = log;
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`signaling WebSocket ${this.url} failed`));
      ws.onclose = (e) => {
        this.log(`signaling closed: code ${e.code}`);
        for (const { reject: fail, timer } of this.#pending.values()) {
          clearTimeout(timer);
          fail(new Error(`signaling closed (code ${e.code})`));
        }
        this.#pending.clear();
      };
      ws.onmessage = (e) => this.#receive(e.data);
      this.#ws = ws;
    });
  }

  close() {
    clearInterval(this.#heartbeat);
    this.#ws?.close();
  }

  #receive(data) {
    if (!(data instanceof ArrayBuffer)) {
      this.log("signaling: text frame ignored");
      return;
    }
    let env;
    try {
      env = msg.decodeEnvelope(new Uint8Array(data));
    } catch (e) {
      this.log(`signaling: undecodable frame: ${e}`);
      return;
    }
    const waiter = env.replyFor ? this.#pending.get(env.replyFor) : undefined;
    if (waiter !== undefined) {
      this.#pending.delete(env.replyFor);
      clearTimeout(waiter.timer);
      if (env.flow === msg.Flow.ENVELOPE_ERROR) {
        const error = msg.decodeError(env.body);
        waiter.reject(new Error(`signaling error ${error.code}: ${error.message}`));
      } else {
        waiter.resolve(env);
      }
      return;
    }
    if (env.flow === msg.Flow.ACTR_RELAY) {
      this.onRelay(msg.decodeRelay(env.body));
    } else if (env.flow === msg.Flow.SERVER_TO_ACTR && env.body.has(30)) {
      const error = msg.decodeError(env.body.message(30));
      this.log(`signaling: server error ${error.code} ${error.message}`);
    } else if (env.flow === msg.Flow.ENVELOPE_ERROR) {
      const error = msg.decodeError(env.body);
      this.log(`signaling: envelope error ${error.code} ${error.message}`);
    }
  }

  #send(flowField, flow) {
    const id = `${this.#prefix}-${++this.#next}`;
    this.#ws.send(msg.envelope(id, flowField, flow));
    return id;
  }

  /** Send and wait for the envelope whose reply_for names ours. */
  request(flowField, flow, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const id = this.#send(flowField, flow);
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`signaling: no reply to ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
  }

  async register(type, realmId) {
    const reply = await this.request(msg.Flow.PEER_TO_SERVER, msg.registerRequest(type, realmId));
    if (reply.flow !== msg.Flow.SERVER_TO_ACTR) throw new Error(`unexpected reply flow ${reply.flow}`);
    this.self = msg.decodeRegisterResponse(reply.body);
    // Keep the registration alive: the server evicts a silent actor.
    this.#heartbeat = setInterval(() => {
      this.request(msg.Flow.ACTR_TO_SERVER, msg.ping(this.self)).catch((e) => this.log(`ping: ${e}`));
    }, this.self.heartbeatSecs * 1000);
    return this.self;
  }

  async routeCandidates(targetType, count = 1) {
    const reply = await this.request(
      msg.Flow.ACTR_TO_SERVER,
      msg.routeCandidatesRequest(this.self, targetType, count),
    );
    return msg.decodeRouteCandidates(reply.body);
  }

  /** RoleNegotiation; the server arbitrates and answers with our RoleAssignment. */
  async negotiateRole(target) {
    const reply = await this.request(
      msg.Flow.ACTR_RELAY,
      msg.relay(this.self, target, msg.Relay.ROLE_NEGOTIATION, msg.roleNegotiation(this.self, target)),
    );
    if (reply.flow !== msg.Flow.ACTR_RELAY) {
      const error = reply.body?.has(30) ? msg.decodeError(reply.body.message(30)) : null;
      throw new Error(`role negotiation refused: ${JSON.stringify(error ?? reply.flow)}`);
    }
    const assignment = msg.decodeRelay(reply.body);
    if (assignment.kind !== "role") throw new Error(`unexpected reply to RoleNegotiation: ${assignment.kind}`);
    return assignment;
  }

  /** Fire-and-forget relay of an SDP or ICE candidate to `target`. */
  relay(target, payloadField, payload) {
    this.#send(msg.Flow.ACTR_RELAY, msg.relay(this.self, target, payloadField, payload));
  }
}
