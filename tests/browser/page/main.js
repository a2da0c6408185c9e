// The browser peer: register with signaling, find the target actor, let the
// server assign WebRTC roles, connect, call the target over DataChannels and
// report everything to the test's HTTP server (same origin as this page).
//
// Query parameters:
//   signaling  ws:// URL of the signaling WebSocket            (required)
//   target     actr type to call, "manufacturer+name"         (required)
//   route      route key of the handler, "pkg.Service.Method"  (required)
//   text       request payload, sent as UTF-8 bytes            (default "hello")
//   lanes      comma-separated lanes to call on                (default RPC_RELIABLE)
//   self       our own actr type                               (default acme+browser)
//   realm      realm id                                        (default 1)
//   budget     overall time budget in ms                       (default 20000)

import { parseType } from "./messages.js";
import { PeerLink } from "./peer.js";
import { Signaling } from "./signaling.js";

const params = new URLSearchParams(location.search);
const config = {
  signaling: params.get("signaling"),
  target: params.get("target"),
  route: params.get("route"),
  text: params.get("text") ?? "hello",
  lanes: (params.get("lanes") ?? "RPC_RELIABLE").split(","),
  self: params.get("self") ?? "acme+browser",
  realm: Number(params.get("realm") ?? 1),
  budget: Number(params.get("budget") ?? 20000),
};

const started = performance.now();
const elapsed = () => Math.round(performance.now() - started);
const timings = {};
const mark = (name) => { timings[name] = elapsed(); };

// Events go to the test in order, so a hung run still shows how far it got.
let posting = Promise.resolve();
function post(path, body) {
  const json = JSON.stringify(body);
  posting = posting
    .then(() => fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: json }))
    .catch(() => {});
  return posting;
}

function log(text) {
  console.log(`[${elapsed()} ms] ${text}`);
  post("/event", { kind: "log", ms: elapsed(), text });
}

function left() {
  return Math.max(0, config.budget - elapsed());
}

async function findTarget(signaling, type) {
  // The target may register after us (that is how the test makes us the
  // offerer): ask again until it is there.
  for (;;) {
    const candidates = await signaling.routeCandidates(type, 1);
    if (candidates.length > 0) return candidates[0];
    if (left() < 500) throw new Error(`no ${type.manufacturer}+${type.name} registered`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function run() {
  for (const name of ["signaling", "target", "route"]) {
    if (!config[name]) throw new Error(`query parameter ${name} is required`);
  }
  const signaling = new Signaling(config.signaling, log);
  let link = null;
  try {
    await signaling.open();
    const self = await signaling.register(parseType(config.self), config.realm);
    mark("registered");
    log(`registered as ${self.id.text}`);
    await post("/event", { kind: "registered", id: self.id.text });

    const target = await findTarget(signaling, parseType(config.target));
    mark("found");
    log(`target ${target.text}`);

    link = new PeerLink(signaling, target, log);
    signaling.onRelay = (relay) => link.onRelay(relay);
    const role = await signaling.negotiateRole(target);
    mark("role");
    log(`role assigned: ${role.isOfferer ? "offerer" : "answerer"}`);
    await link.start(role.isOfferer);
    await link.lanesOpen(left());
    mark("lanes_open");

    const calls = [];
    for (const lane of config.lanes) {
      const response = await link.call(lane, config.route, `${config.text} via ${lane}`, left());
      calls.push({
        lane,
        responseLane: response.lane,
        direction: response.direction,
        requestId: response.requestId,
        routeKey: response.routeKey,
        error: response.error ?? null,
        payload: response.payload === null ? null : new TextDecoder().decode(response.payload),
        size: response.size,
      });
      log(`response on ${response.lane}: ${calls.at(-1).payload ?? JSON.stringify(response.error)}`);
    }
    mark("answered");

    return {
      ok: true,
      self: self.id.text,
      target: target.text,
      role: link.role,
      assignment: { isOfferer: role.isOfferer, remoteFixed: role.remoteFixed },
      calls,
      channels: link.channelLog,
      candidates: link.candidates,
      unexpected: link.unexpected,
      ignored: link.ignored,
      ice: await link.iceReport(),
      userAgent: navigator.userAgent,
      timings,
    };
  } finally {
    link?.close();
    signaling.close();
  }
}

run()
  .catch((error) => ({ ok: false, error: String(error), stack: error?.stack ?? null, timings }))
  .then((report) => post("/report", report));
