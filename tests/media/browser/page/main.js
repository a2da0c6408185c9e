// A browser that subscribes to an actr_py media relay and plays what it relays.
//
// Reuses the browser peer of tests/browser/page (served at /browser/): it
// registers with signaling, finds the relay, lets the server assign WebRTC
// roles and opens the plain actr DataChannel lanes. Then it calls the relay's
// Subscribe route (payload: the codec it wants, as UTF-8) and waits for the
// relay to add a video track to the same peer connection (a renegotiation
// offer, which PeerLink answers), plays it in a <video> and reports the
// decoder's progress from getStats.
//
// Query parameters:
//   signaling  ws:// URL of the signaling WebSocket            (required)
//   target     actr type of the relay, "manufacturer+name"     (required)
//   route      route key of Subscribe                          (required)
//   codec      codec to ask for                                (default VP8)
//   frames     framesDecoded to wait for                       (default 30)
//   self       our own actr type                               (default acme+browser)
//   budget     overall time budget in ms                       (default 20000)

import { parseType } from "/browser/messages.js";
import { PeerLink } from "/browser/peer.js";
import { Signaling } from "/browser/signaling.js";

const params = new URLSearchParams(location.search);
const config = {
  signaling: params.get("signaling"),
  target: params.get("target"),
  route: params.get("route"),
  codec: params.get("codec") ?? "VP8",
  frames: Number(params.get("frames") ?? 30),
  self: params.get("self") ?? "acme+browser",
  budget: Number(params.get("budget") ?? 20000),
};

const started = performance.now();
const elapsed = () => Math.round(performance.now() - started);
const left = () => Math.max(0, config.budget - elapsed());
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

async function findTarget(signaling, type) {
  for (;;) {
    const candidates = await signaling.routeCandidates(type, 1);
    if (candidates.length > 0) return candidates[0];
    if (left() < 500) throw new Error(`no ${type.manufacturer}+${type.name} registered`);
    await sleep(100);
  }
}

/** The inbound video RTP stream and its codec, from getStats. */
async function inboundVideo(pc) {
  const stats = await pc.getStats();
  let inbound = null;
  const codecs = new Map();
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") inbound = s;
    if (s.type === "codec") codecs.set(s.id, s);
  });
  if (inbound === null) return null;
  const codec = codecs.get(inbound.codecId) ?? {};
  return {
    framesDecoded: inbound.framesDecoded ?? 0,
    framesReceived: inbound.framesReceived ?? null,
    keyFramesDecoded: inbound.keyFramesDecoded ?? null,
    frameWidth: inbound.frameWidth ?? null,
    frameHeight: inbound.frameHeight ?? null,
    packetsReceived: inbound.packetsReceived ?? null,
    packetsLost: inbound.packetsLost ?? null,
    pliCount: inbound.pliCount ?? null,
    mimeType: codec.mimeType ?? null,
    payloadType: codec.payloadType ?? null,
  };
}

async function run() {
  for (const name of ["signaling", "target", "route"]) {
    if (!config[name]) throw new Error(`query parameter ${name} is required`);
  }
  const signaling = new Signaling(config.signaling, log);
  let link = null;
  try {
    await signaling.open();
    const self = await signaling.register(parseType(config.self), 1);
    log(`registered as ${self.id.text}`);
    const target = await findTarget(signaling, parseType(config.target));
    link = new PeerLink(signaling, target, log);
    signaling.onRelay = (relay) => link.onRelay(relay);

    const tracks = [];
    const video = document.getElementById("video");
    const gotTrack = new Promise((resolve) => {
      link.pc.ontrack = (event) => {
        const stream = event.streams[0] ?? new MediaStream([event.track]);
        tracks.push({ kind: event.track.kind, trackId: event.track.id, streamId: stream.id,
                      mid: event.transceiver?.mid ?? null });
        log(`track ${event.track.kind} ${event.track.id} (mid ${event.transceiver?.mid})`);
        video.srcObject = stream;
        video.play().catch((e) => log(`play: ${e}`));
        resolve();
      };
    });

    const role = await signaling.negotiateRole(target);
    await link.start(role.isOfferer);
    await link.lanesOpen(left());
    log("lanes open; subscribing");
    const answer = await link.call("RPC_RELIABLE", config.route, config.codec, left());
    const subscribed = {
      error: answer.error ?? null,
      size: answer.size,
    };
    log(`subscribed: ${JSON.stringify(subscribed)}`);
    await Promise.race([gotTrack, sleep(left())]);
    if (tracks.length === 0) throw new Error("the relay added no track");

    let stats = null;
    const samples = [];
    while (left() > 0) {
      stats = await inboundVideo(link.pc);
      if (stats !== null) samples.push({ ms: elapsed(), framesDecoded: stats.framesDecoded });
      if (stats !== null && stats.framesDecoded >= config.frames) break;
      await sleep(100);
    }
    return {
      ok: true,
      self: self.id.text,
      target: target.text,
      role: link.role,
      subscribed,
      tracks,
      video: stats,
      progress: samples,
      played: { width: video.videoWidth, height: video.videoHeight, currentTime: video.currentTime },
      unexpected: link.unexpected,
      userAgent: navigator.userAgent,
    };
  } finally {
    link?.close();
    signaling.close();
  }
}

run()
  .catch((error) => ({ ok: false, error: String(error), stack: error?.stack ?? null }))
  .then((report) => post("/report", report));
