"""Server configuration: a TOML file, then ``ACTR_SIGNALING_*`` variables, then flags.

Later sources override earlier ones key by key. Unknown keys are errors in
every source, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actr_py.errors import ConfigError

__all__ = ["ENV_PREFIX", "FIELDS", "ServerConfig", "load_config"]

ENV_PREFIX = "ACTR_SIGNALING_"
#: Variables with the prefix that are not config keys.
_ENV_RESERVED = {"ACTR_SIGNALING_CONFIG"}
_U32 = 2**32


@dataclass(frozen=True)
class ServerConfig:
    host: str = field(default="127.0.0.1", metadata={"help": "address to bind"})
    port: int = field(default=8081, metadata={"help": "TCP port; 0 picks a free one"})
    db: str = field(default="actr-signaling.db", metadata={"help": "SQLite database path"})
    dev_realm: bool = field(
        default=True, metadata={"help": "provide the development realm 1 without provisioning"}
    )
    realms: tuple[int, ...] = field(
        default=(), metadata={"help": "extra realm ids accepted besides those in the database"}
    )
    heartbeat_interval_secs: int = field(
        default=30, metadata={"help": "Ping interval told to nodes at registration"}
    )
    heartbeat_miss_limit: int = field(
        default=3, metadata={"help": "silent intervals before a node is evicted"}
    )
    credential_ttl_secs: float = field(
        default=3600.0, metadata={"help": "lifetime of an issued credential"}
    )
    max_frame_bytes: int = field(
        default=1 << 20, metadata={"help": "largest envelope answered normally; above: 413"}
    )
    hard_max_frame_bytes: int = field(
        default=16 << 20, metadata={"help": "frames above this close the socket (aiohttp cap)"}
    )
    message_rate: float = field(
        default=50.0, metadata={"help": "messages per second per connection (token bucket)"}
    )
    message_burst: int = field(default=200, metadata={"help": "message bucket size"})
    placement_rate: float = field(
        default=1000.0,
        metadata={"help": "virtual-actor placement requests per second per connection"},
    )
    placement_burst: int = field(default=2000, metadata={"help": "placement bucket size"})
    connection_rate: float = field(
        default=10.0, metadata={"help": "WebSocket upgrades per second per client IP"}
    )
    connection_burst: int = field(default=50, metadata={"help": "upgrade bucket size per IP"})
    max_candidates: int = field(
        default=64, metadata={"help": "cap on route candidates and discovery entries"}
    )
    outbound_queue: int = field(
        default=1024, metadata={"help": "frames queued per connection before relays get 503"}
    )
    log_level: str = field(default="info", metadata={"help": "debug, info, warning or error"})

    def __post_init__(self) -> None:
        def need(cond: bool, key: str, why: str) -> None:
            if not cond:
                raise ConfigError(f"{key} = {getattr(self, key)!r}: {why}")

        need(0 <= self.port < 65536, "port", "must be 0..65535")
        need(bool(self.db), "db", "must not be empty")
        need(all(0 <= r < _U32 for r in self.realms), "realms", "realm ids are 0..2^32-1")
        need(1 <= self.heartbeat_interval_secs <= 3600, "heartbeat_interval_secs", "1..3600")
        need(self.heartbeat_miss_limit >= 1, "heartbeat_miss_limit", "must be >= 1")
        need(self.credential_ttl_secs > 0, "credential_ttl_secs", "must be > 0")
        need(self.max_frame_bytes >= 1024, "max_frame_bytes", "must be >= 1024")
        need(
            self.hard_max_frame_bytes >= self.max_frame_bytes,
            "hard_max_frame_bytes",
            "must be >= max_frame_bytes",
        )
        need(self.message_rate > 0, "message_rate", "must be > 0")
        need(self.message_burst >= 1, "message_burst", "must be >= 1")
        need(self.placement_rate > 0, "placement_rate", "must be > 0")
        need(self.placement_burst >= 1, "placement_burst", "must be >= 1")
        need(self.connection_rate > 0, "connection_rate", "must be > 0")
        need(self.connection_burst >= 1, "connection_burst", "must be >= 1")
        need(self.max_candidates >= 1, "max_candidates", "must be >= 1")
        need(self.outbound_queue >= 16, "outbound_queue", "must be >= 16")
        need(
            self.log_level in ("debug", "info", "warning", "error"),
            "log_level",
            "one of debug, info, warning, error",
        )


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(ServerConfig)}


def _coerce(key: str, value: Any, source: str) -> Any:
    """Convert a file, env or flag value to the field's type, with a located error."""
    kind = FIELDS[key].type
    where = f"{source}: {key}"
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if kind == "int":
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError("expected an integer")
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError("expected a number")
            return float(value)
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError("expected a string")
            return value
        if kind == "tuple[int, ...]":
            if isinstance(value, str):
                value = [v for v in value.replace(",", " ").split() if v]
            if not isinstance(value, list | tuple):
                raise ValueError("expected a list of integers")
            out = []
            for v in value:
                if isinstance(v, bool | float):
                    raise ValueError(f"{v!r} is not an integer")
                out.append(int(v))
            return tuple(out)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: invalid value {value!r} ({exc})") from None
    raise AssertionError(f"unhandled config type {kind}")


def _check_known(keys: Mapping[str, Any], source: str, spell: Any = str) -> None:
    unknown = sorted(k for k in keys if k not in FIELDS)
    if unknown:
        known = ", ".join(spell(k) for k in FIELDS)
        raise ConfigError(f"{source}: unknown key {spell(unknown[0])!r} (known: {known})")


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    _check_known(data, str(path))
    return {k: _coerce(k, v, str(path)) for k, v in data.items()}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    keys = {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in env.items()
        if name.startswith(ENV_PREFIX) and name not in _ENV_RESERVED
    }
    _check_known(keys, "environment", lambda k: ENV_PREFIX + k.upper())
    return {k: _coerce(k, v, "environment " + ENV_PREFIX + k.upper()) for k, v in keys.items()}


def load_config(
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ServerConfig:
    """Merge file < environment < overrides (flags) into a validated config.

    ``config_file`` defaults to ``$ACTR_SIGNALING_CONFIG`` when set.
    """
    env = {} if env is None else env
    if config_file is None:
        config_file = env.get("ACTR_SIGNALING_CONFIG") or None
    merged: dict[str, Any] = {}
    if config_file is not None:
        merged.update(_from_file(Path(config_file)))
    merged.update(_from_env(env))
    if overrides:
        _check_known(overrides, "command line")
        merged.update({k: _coerce(k, v, "command line") for k, v in overrides.items()})
    return ServerConfig(**merged)
