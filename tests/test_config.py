"""Actr.toml loading: good files load, every bad key or type names file, key and reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from actr_py import ActrConfig, ActrSystem, ActrTypeName, ConfigError

GOOD = """
[package]
name = "echo-service"
actr_type = "acme+echo"
version = "1.0"
description = "echoes"

[system]
realm = 101
signaling_url = "ws://127.0.0.1:8081/signaling/ws"
storage_path = "data/echo.db"
call_timeout_ms = 1500
shutdown_grace_ms = 250

[system.mailbox]
capacity = 50
max_attempts = 5

[system.websocket]
listen = "127.0.0.1:0"

[observability]
level = "debug"

[[acl.rules]]
permission = "allow"
principals = [{ actr_type = "acme+client" }, { realm = 101 }]

[[acl.rules]]
permission = "deny"
principals = [{ realm = 7, actr_type = "evil+corp" }]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "Actr.toml"
    p.write_text(text)
    return p


def test_good_file_loads_every_key(tmp_path: Path) -> None:
    cfg = ActrConfig.from_toml(write(tmp_path, GOOD))
    assert cfg.actr_type == ActrTypeName("acme", "echo")
    assert (cfg.name, cfg.version, cfg.description) == ("echo-service", "1.0", "echoes")
    assert cfg.realm == 101 and cfg.signaling_url.endswith("/signaling/ws")
    assert cfg.storage_path == "data/echo.db" and cfg.durable
    assert (cfg.call_timeout, cfg.shutdown_grace) == (1.5, 0.25)
    assert (cfg.mailbox_capacity, cfg.mailbox_max_attempts) == (50, 5)
    assert cfg.websocket_listen == "127.0.0.1:0"
    assert cfg.log_level == "debug"
    acl = cfg.acl_proto()
    assert [r.permission for r in acl.rules] == [1, 0]
    assert acl.rules[0].principals[0].actr_type.name == "client"
    assert acl.rules[0].principals[1].realm.realm_id == 101
    assert acl.rules[1].principals[0].actr_type.manufacturer == "evil"


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    cfg = ActrConfig.from_toml(write(tmp_path, '[package]\nactr_type = "acme+echo"\n'))
    assert cfg.realm == 1 and cfg.storage_path == ":memory:" and not cfg.durable
    assert cfg.call_timeout == 30.0 and cfg.signaling_url is None and cfg.acl == ()
    assert cfg.name == "acme+echo"


def test_system_from_toml(tmp_path: Path) -> None:
    system = ActrSystem.from_toml(write(tmp_path, '[package]\nactr_type = "acme+echo"\n'))
    assert system.config.actr_type.name == "echo"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[package]\nactr_type = 'a+b'\ncolour = 'red'\n", "package.colour", "unknown key"),
        ("[pakage]\nactr_type = 'a+b'\n", "pakage", "unknown section"),
        ("[package]\nname = 'x'\n", "package.actr_type", "is required"),
        ("[package]\nactr_type = 'ab'\n", "package.actr_type", "manufacturer+name"),
        ("[package]\nactr_type = 5\n", "package.actr_type", "must be a string, got int"),
        ("[package]\nactr_type='a+b'\n[system]\nrealm = '1'\n", "system.realm",
         "must be an integer, got str"),
        ("[package]\nactr_type='a+b'\n[system]\nrealm = true\n", "system.realm",
         "must be an integer, got bool"),
        ("[package]\nactr_type='a+b'\n[system]\nrealm = -1\n", "system.realm", "between"),
        ("[package]\nactr_type='a+b'\n[system]\ncall_timeout_ms = 0\n", "system.call_timeout_ms",
         "must be > 0"),
        ("[package]\nactr_type='a+b'\n[system]\nsignaling_url = 'http://x'\n",
         "system.signaling_url", "ws://"),
        ("[package]\nactr_type='a+b'\n[system.mailbox]\ncapacity = 0\n", "system.mailbox.capacity",
         ">= 1"),
        ("[package]\nactr_type='a+b'\n[system.mailbox]\nsize = 3\n", "system.mailbox.size",
         "unknown key"),
        ("[package]\nactr_type='a+b'\n[system.websocket]\nlisten = 'nohost'\n",
         "system.websocket.listen", "host:port"),
        ("[package]\nactr_type='a+b'\n[observability]\nlevel = 'loud'\n", "observability.level",
         "must be one of"),
        ("[package]\nactr_type='a+b'\n[[acl.rules]]\npermission = 'maybe'\n"
         "principals=[{realm=1}]\n",
         "acl.rules[0].permission", "'allow' or 'deny'"),
        ("[package]\nactr_type='a+b'\n[[acl.rules]]\npermission = 'allow'\n",
         "acl.rules[0].principals", "non-empty"),
        ("[package]\nactr_type='a+b'\n[[acl.rules]]\npermission='allow'\nprincipals=[{who=1}]\n",
         "acl.rules[0].principals[0].who", "unknown key"),
        ("[package]\nactr_type='a+b'\n[[acl.rules]]\npermission='allow'\n"
         "principals=[{actr_type='x'}]\n",
         "acl.rules[0].principals[0].actr_type", "manufacturer+name"),
        ("[package]\nactr_type='a+b'\n[acl]\nallow = []\n", "acl.allow", "unknown key"),
        ("package = 3\n", "package", "must be a table"),
    ],
)
def test_bad_config_names_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        ActrConfig.from_toml(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert re.search(re.escape(reason), msg), msg


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        ActrConfig.from_toml(write(tmp_path, "[package\n"))
    with pytest.raises(ConfigError, match="file not found"):
        ActrConfig.from_toml(tmp_path / "nope.toml")


def test_code_config_validates_type() -> None:
    with pytest.raises(ConfigError, match=r"package\.actr_type"):
        ActrConfig(actr_type="bad")  # type: ignore[arg-type]
