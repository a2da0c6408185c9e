"""The aiohttp application: the WebSocket endpoint, health, metrics and keys, and serving.

Routes:

* ``GET /signaling/ws`` - the signaling WebSocket (binary frames, one envelope each);
  optional ``?actor_id=&token=&token_key_id=`` to reconnect with an identity.
* ``GET /health`` - JSON liveness and counts.
* ``GET /metrics`` - Prometheus text format.
* ``GET /credential-keys`` - ``{"<key id>": "<base64 raw Ed25519 public key>"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import WSMsgType, web

from actr_py.errors import BadRequest, InternalError

from .config import ServerConfig
from .service import SignalingService
from .store import Store

__all__ = ["build_app", "serve"]

log = logging.getLogger("signaling_server")

_SERVICE = web.AppKey("service", SignalingService)
_IDENTITY_PARAMS = ("actor_id", "token", "token_key_id")


async def _ws_handler(request: web.Request) -> web.StreamResponse:
    service = request.app[_SERVICE]
    remote = request.remote or "unknown"
    if not service.allow_connection(remote):
        return web.Response(status=429, text="too many connections from this address; slow down\n")
    ws = web.WebSocketResponse(
        # Above our own limit, so an oversized frame gets a 413 answer instead of
        # aiohttp closing the socket; only frames above the hard cap close it.
        max_msg_size=service.config.hard_max_frame_bytes,
        compress=False,
        autoping=True,
    )
    await ws.prepare(request)
    conn = service.open_connection(ws, remote)
    try:
        if any(p in request.query for p in _IDENTITY_PARAMS):
            try:
                await service.restore(conn, request.query)
            except Exception:
                log.exception("restore failed on connection %d", conn.id)
                await service.reject(conn, InternalError("restore failed; register again"))
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await service.handle_frame(conn, msg.data)
            elif msg.type == WSMsgType.TEXT:
                await service.reject(
                    conn, BadRequest("text frames are not accepted; send binary envelopes")
                )
            elif msg.type == WSMsgType.ERROR:
                log.debug("connection %d: %s", conn.id, ws.exception())
                break
    finally:
        service.connection_lost(conn)
        await conn.finish()
    return ws


async def _health(request: web.Request) -> web.Response:
    service = request.app[_SERVICE]
    return web.json_response(
        {
            "status": "ok",
            "connections": len(service.connections),
            "actors": len(service.registry),
            "uptime_secs": round(service.mono() - service.started_at, 3),
            "credential_key_id": service.issuer.key_id,
        }
    )


async def _metrics(request: web.Request) -> web.Response:
    service = request.app[_SERVICE]
    body = service.metrics.render(
        {
            "connections": ("Open WebSocket connections", lambda: len(service.connections)),
            "registered_actors": ("Actors registered and live", lambda: len(service.registry)),
        }
    )
    return web.Response(text=body, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def _credential_keys(request: web.Request) -> web.Response:
    return web.json_response(request.app[_SERVICE].verifier.to_json())


async def _housekeeping(service: SignalingService) -> None:
    """Evict silent actors; now and then drop registrations whose tokens expired."""
    period = min(1.0, service.config.heartbeat_interval_secs / 2)
    purge_every = max(1, int(60 / period))
    ticks = 0
    while True:
        await asyncio.sleep(period)
        try:
            service.sweep()
            ticks += 1
            if ticks % purge_every == 0:
                service.purge()
        except Exception:
            log.exception("housekeeping failed")


def build_app(service: SignalingService) -> web.Application:
    app = web.Application()
    app[_SERVICE] = service
    app.router.add_get("/signaling/ws", _ws_handler)
    app.router.add_get("/health", _health)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/credential-keys", _credential_keys)

    async def background(app: web.Application):  # type: ignore[no-untyped-def]
        task = asyncio.create_task(_housekeeping(service), name="signaling-housekeeping")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close_sockets(app: web.Application) -> None:
        await asyncio.gather(
            *(c.close(1001, "server shutting down") for c in list(service.connections)),
            return_exceptions=True,
        )

    app.cleanup_ctx.append(background)
    app.on_shutdown.append(close_sockets)
    return app


async def serve(config: ServerConfig) -> None:
    """Run until SIGINT/SIGTERM. Prints the bound address once listening."""
    store = Store(config.db)
    try:
        service = SignalingService(config, store)
        service.purge()
        runner = web.AppRunner(build_app(service), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        # Launchers wait for this exact line (port 0 resolves here).
        print(f"actr-signaling listening on {host}:{port}", flush=True)
        log.info("key id %d, database %s", service.issuer.key_id, store.path)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            log.info("shutting down")
            await runner.cleanup()
    finally:
        store.close()
        sys.stdout.flush()
