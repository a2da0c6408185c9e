"""Actr.toml: a node's identity, realm, signaling, storage, ACL and logging.

Every key is checked: an unknown key or a wrong type is refused with the
file, the dotted key and the reason, so a typo never silently falls back to
a default. Example::

    [package]
    name = "echo-service"
    actr_type = "acme+echo"

    [system]
    realm = 1
    signaling_url = "ws://127.0.0.1:8081/signaling/ws"
    storage_path = "data/echo.db"

    [observability]
    level = "info"

    [[acl.rules]]
    permission = "allow"
    principals = [{ actr_type = "acme+client" }]
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError, InvalidId
from .ids import ActrTypeName
from .payload_type import PayloadType
from .proto import actr_pb2
from .transport.route_table import LANE_KINDS, RouteTable

__all__ = ["AclRuleConfig", "ActrConfig", "load_config"]

_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class AclRuleConfig:
    permission: str  # "allow" | "deny"
    principals: tuple[tuple[int | None, ActrTypeName | None], ...]

    def to_proto(self) -> actr_pb2.AclRule:
        rule = actr_pb2.AclRule(
            permission=actr_pb2.AclRule.ALLOW
            if self.permission == "allow"
            else actr_pb2.AclRule.DENY
        )
        for realm, actr_type in self.principals:
            p = rule.principals.add()
            if realm is not None:
                p.realm.realm_id = realm
            if actr_type is not None:
                p.actr_type.CopyFrom(actr_type.to_proto())
        return rule


@dataclass(frozen=True)
class ActrConfig:
    """A node's configuration; build it in code or load it with :meth:`from_toml`."""

    actr_type: ActrTypeName
    name: str = ""
    version: str = ""
    description: str = ""
    realm: int = 1
    signaling_url: str | None = None
    storage_path: str = ":memory:"
    call_timeout: float = 30.0
    shutdown_grace: float = 5.0
    mailbox_capacity: int = 10_000
    mailbox_max_attempts: int = 3
    mailbox_durable: bool | None = None  # None: durable when storage_path is a file
    websocket_listen: str | None = None  # "host:port" to accept direct peer lanes
    webrtc_enabled: bool | None = None  # None: on whenever signaling_url is set
    webrtc_connect_timeout: float = 5.0
    webrtc_ice_addresses: tuple[str, ...] = ("127.0.0.1",)
    #: PayloadType name -> ordered lane kinds, e.g. {"RPC_RELIABLE": ("websocket",)}
    routes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    log_level: str = "info"
    acl: tuple[AclRuleConfig, ...] = ()
    source: str = "<code>"

    def __post_init__(self) -> None:
        if isinstance(self.actr_type, str):
            try:
                object.__setattr__(self, "actr_type", ActrTypeName.parse(self.actr_type))
            except InvalidId as exc:
                raise ConfigError(f"{self.source}: package.actr_type: {exc}") from None
        if not self.name:
            object.__setattr__(self, "name", str(self.actr_type))

    @classmethod
    def from_toml(cls, path: str | Path) -> ActrConfig:
        return load_config(path)

    def with_(self, **changes: Any) -> ActrConfig:
        return replace(self, **changes)

    @property
    def webrtc(self) -> bool:
        if self.signaling_url is None:
            return False
        return True if self.webrtc_enabled is None else self.webrtc_enabled

    def route_table(self) -> RouteTable:
        return RouteTable({PayloadType[name]: kinds for name, kinds in self.routes})

    @property
    def durable(self) -> bool:
        if self.mailbox_durable is not None:
            return self.mailbox_durable
        return self.storage_path != ":memory:"

    def acl_proto(self) -> actr_pb2.Acl:
        return actr_pb2.Acl(rules=[r.to_proto() for r in self.acl])

    def apply_logging(self) -> None:
        logging.getLogger("actr_py").setLevel(self.log_level.upper())


# ---- schema ----------------------------------------------------------------

# section -> key -> (expected python types, config attribute or None, required)
_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], str, bool]]] = {
    "package": {
        "name": ((str,), "name", False),
        "actr_type": ((str,), "actr_type", True),
        "version": ((str,), "version", False),
        "description": ((str,), "description", False),
    },
    "system": {
        "realm": ((int,), "realm", False),
        "signaling_url": ((str,), "signaling_url", False),
        "storage_path": ((str,), "storage_path", False),
        "call_timeout_ms": ((int,), "call_timeout", False),
        "shutdown_grace_ms": ((int,), "shutdown_grace", False),
    },
    "system.mailbox": {
        "capacity": ((int,), "mailbox_capacity", False),
        "max_attempts": ((int,), "mailbox_max_attempts", False),
        "durable": ((bool,), "mailbox_durable", False),
    },
    "system.websocket": {
        "listen": ((str,), "websocket_listen", False),
    },
    "system.webrtc": {
        "enabled": ((bool,), "webrtc_enabled", False),
        "connect_timeout_ms": ((int,), "webrtc_connect_timeout", False),
        "ice_addresses": ((list,), "webrtc_ice_addresses", False),
    },
    "observability": {
        "level": ((str,), "log_level", False),
    },
}
_TABLES = {"package", "system", "observability", "acl"}
_NESTED_FREE = {"system.routes"}  # tables whose keys are checked by their own parser


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", bool: "a boolean", list: "an array"}
    return names.get(types[0], types[0].__name__)


def _check(value: Any, types: tuple[type, ...]) -> bool:
    if bool in types:
        return isinstance(value, bool)
    if int in types and isinstance(value, bool):
        return False
    return isinstance(value, types)


def load_config(path: str | Path) -> ActrConfig:
    path = Path(path)
    src = str(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{src}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{src}: not valid TOML: {exc}") from None
    return config_from_dict(raw, src)


def config_from_dict(raw: dict[str, Any], src: str = "<dict>") -> ActrConfig:
    def fail(key: str, reason: str) -> ConfigError:
        return ConfigError(f"{src}: {key}: {reason}")

    for top in raw:
        if top not in _TABLES:
            raise fail(top, f"unknown section (expected one of {sorted(_TABLES)})")
        if not isinstance(raw[top], dict):
            raise fail(top, "must be a table")
    values: dict[str, Any] = {"source": src}
    for section, keys in _SCHEMA.items():
        table: Any = raw
        for part in section.split("."):
            table = table.get(part, {}) if isinstance(table, dict) else {}
        if not isinstance(table, dict):
            raise fail(section, "must be a table")
        nested = {k for k in (*_SCHEMA, *_NESTED_FREE) if k.startswith(section + ".")}
        for key, value in table.items():
            dotted = f"{section}.{key}"
            if dotted in nested:
                continue
            if key not in keys:
                raise fail(dotted, f"unknown key (expected one of {sorted(keys)})")
            types, attr, _ = keys[key]
            if not _check(value, types):
                raise fail(dotted, f"must be {_type_name(types)}, got {type(value).__name__}")
            values[attr] = value
        for key, (_, _, required) in keys.items():
            if required and key not in table:
                raise fail(f"{section}.{key}", "is required")

    if "call_timeout" in values:
        values["call_timeout"] = _positive_ms(
            values["call_timeout"], "system.call_timeout_ms", fail
        )
    if "webrtc_connect_timeout" in values:
        values["webrtc_connect_timeout"] = _positive_ms(
            values["webrtc_connect_timeout"], "system.webrtc.connect_timeout_ms", fail
        )
    if "webrtc_ice_addresses" in values:
        addrs = values["webrtc_ice_addresses"]
        if not addrs or not all(isinstance(a, str) and a for a in addrs):
            raise fail("system.webrtc.ice_addresses", "must be a non-empty array of addresses")
        values["webrtc_ice_addresses"] = tuple(addrs)
    values["routes"] = _parse_routes(raw.get("system", {}).get("routes", {}), fail)
    if "shutdown_grace" in values:
        values["shutdown_grace"] = _positive_ms(
            values["shutdown_grace"], "system.shutdown_grace_ms", fail
        )
    if not 0 <= values.get("realm", 1) < 2**32:
        raise fail("system.realm", "must be between 0 and 2^32-1")
    for key in ("mailbox_capacity", "mailbox_max_attempts"):
        if key in values and values[key] < 1:
            raise fail(f"system.mailbox.{key.removeprefix('mailbox_')}", "must be >= 1")
    level = values.get("log_level", "info")
    if level not in _LEVELS:
        raise fail("observability.level", f"must be one of {list(_LEVELS)}, got {level!r}")
    url = values.get("signaling_url")
    if url is not None and not url.startswith(("ws://", "wss://")):
        raise fail("system.signaling_url", f"must be a ws:// or wss:// URL, got {url!r}")
    listen = values.get("websocket_listen")
    if listen is not None:
        host, sep, port = listen.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise fail("system.websocket.listen", f"must be 'host:port', got {listen!r}")
    try:
        values["actr_type"] = ActrTypeName.parse(values["actr_type"])
    except InvalidId as exc:
        raise fail("package.actr_type", str(exc)) from None
    values["acl"] = _parse_acl(raw.get("acl", {}), fail)
    return ActrConfig(**values)


def _parse_routes(routes: Any, fail: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(routes, dict):
        raise fail("system.routes", "must be a table of PAYLOAD_TYPE = [lane kinds]")
    out = []
    for name, kinds in routes.items():
        key = f"system.routes.{name}"
        if name not in PayloadType.__members__:
            known = list(PayloadType.__members__)
            raise fail(key, f"unknown PayloadType (expected one of {known})")
        if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
            raise fail(key, "must be a non-empty array of lane kinds")
        unknown = [k for k in kinds if k not in LANE_KINDS]
        if unknown:
            raise fail(key, f"unknown lane kinds {unknown} (expected some of {list(LANE_KINDS)})")
        out.append((name, tuple(kinds)))
    return tuple(out)


def _positive_ms(value: int, key: str, fail: Any) -> float:
    if value <= 0:
        raise fail(key, "must be > 0")
    return value / 1000


def _parse_acl(acl: dict[str, Any], fail: Any) -> tuple[AclRuleConfig, ...]:
    for key in acl:
        if key != "rules":
            raise fail(f"acl.{key}", "unknown key (expected ['rules'])")
    rules = acl.get("rules", [])
    if not isinstance(rules, list):
        raise fail("acl.rules", "must be an array of tables ([[acl.rules]])")
    out = []
    for i, rule in enumerate(rules):
        where = f"acl.rules[{i}]"
        if not isinstance(rule, dict):
            raise fail(where, "must be a table")
        for key in rule:
            if key not in ("permission", "principals"):
                raise fail(f"{where}.{key}", "unknown key (expected permission, principals)")
        perm = rule.get("permission")
        if perm not in ("allow", "deny"):
            raise fail(f"{where}.permission", f"must be 'allow' or 'deny', got {perm!r}")
        principals = rule.get("principals", [])
        if not isinstance(principals, list) or not principals:
            raise fail(f"{where}.principals", "must be a non-empty array of tables")
        parsed = []
        for j, p in enumerate(principals):
            pw = f"{where}.principals[{j}]"
            if not isinstance(p, dict):
                raise fail(pw, "must be a table like { actr_type = 'acme+client' }")
            for key in p:
                if key not in ("realm", "actr_type"):
                    raise fail(f"{pw}.{key}", "unknown key (expected realm, actr_type)")
            realm = p.get("realm")
            if realm is not None and (not _check(realm, (int,)) or realm < 0):
                raise fail(f"{pw}.realm", "must be a non-negative integer")
            t = p.get("actr_type")
            if t is not None:
                if not isinstance(t, str):
                    raise fail(f"{pw}.actr_type", f"must be a string, got {type(t).__name__}")
                try:
                    t = ActrTypeName.parse(t)
                except InvalidId as exc:
                    raise fail(f"{pw}.actr_type", str(exc)) from None
            if realm is None and t is None:
                raise fail(pw, "names neither realm nor actr_type")
            parsed.append((realm, t))
        out.append(AclRuleConfig(perm, tuple(parsed)))
    return tuple(out)


