"""Configuration precedence and validation, and the admin CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from actr_py.errors import ConfigError
from signaling_server.__main__ import main
from signaling_server.config import ServerConfig, load_config
from signaling_server.store import Store


def write(path, text):
    path.write_text(text)
    return path


def test_defaults():
    cfg = load_config(env={})
    assert cfg == ServerConfig()
    assert cfg.host == "127.0.0.1" and cfg.max_frame_bytes == 1 << 20 and cfg.dev_realm


def test_flags_override_env_override_file(tmp_path):
    conf = write(tmp_path / "c.toml", 'port = 1000\nhost = "127.0.0.2"\nrealms = [5, 6]\n'
                 "credential_ttl_secs = 10\n")
    env = {"ACTR_SIGNALING_PORT": "2000", "ACTR_SIGNALING_DEV_REALM": "false",
           "ACTR_SIGNALING_REALMS": "7,8"}
    cfg = load_config(config_file=conf, env=env, overrides={"port": "3000"})
    assert (cfg.port, cfg.host, cfg.dev_realm, cfg.realms) == (3000, "127.0.0.2", False, (7, 8))
    assert cfg.credential_ttl_secs == 10.0
    assert load_config(config_file=conf, env=env).port == 2000
    assert load_config(config_file=conf, env={}).port == 1000
    # The file may also come from the environment.
    assert load_config(env={"ACTR_SIGNALING_CONFIG": str(conf)}).realms == (5, 6)


@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        ({"file": "prot = 1\n"}, r"c\.toml: unknown key 'prot' \(known: host, port"),
        ({"env": {"ACTR_SIGNALING_PROT": "1"}}, "environment: unknown key 'ACTR_SIGNALING_PROT'"),
        ({"overrides": {"prot": 1}}, "command line: unknown key 'prot'"),
        ({"file": 'port = "x"\n'}, "port: invalid value 'x'"),
        ({"file": "port = 70000\n"}, "port = 70000: must be 0..65535"),
        ({"file": "dev_realm = 3\n"}, "dev_realm: invalid value 3"),
        ({"file": "realms = [1.5]\n"}, "realms: invalid value"),
        ({"file": "max_frame_bytes = 10\n"}, "max_frame_bytes = 10"),
        ({"file": "max_frame_bytes = 4096\nhard_max_frame_bytes = 2048\n"}, "hard_max_frame"),
        ({"file": "port = \n"}, "invalid TOML"),
        ({"env": {"ACTR_SIGNALING_DEV_REALM": "maybe"}}, "expected true or false"),
        ({"env": {"ACTR_SIGNALING_LOG_LEVEL": "loud"}}, "log_level"),
    ],
)
def test_bad_configuration_is_refused_with_a_located_message(tmp_path, source, pattern):
    conf = write(tmp_path / "c.toml", source["file"]) if "file" in source else None
    with pytest.raises(ConfigError, match=pattern):
        load_config(config_file=conf, env=source.get("env", {}), overrides=source.get("overrides"))


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(config_file=tmp_path / "nope.toml", env={})


def test_cli_reports_config_errors_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ACTR_SIGNALING_CONFIG", raising=False)
    conf = write(tmp_path / "c.toml", "colour = 'blue'\n")
    assert main(["--config", str(conf)]) == 2
    assert "unknown key 'colour'" in capsys.readouterr().err


def test_realm_cli_add_list_remove(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    assert main(["realm", "add", "101", "--name", "prod", "--db", db]) == 0
    assert main(["realm", "add", "101", "--db", db]) == 0
    assert main(["realm", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "realm 101 added" in out and "already exists" in out
    assert "101\tprod" in out and "1\tdev (built in" in out
    assert main(["realm", "remove", "101", "--db", db]) == 0
    assert main(["realm", "remove", "101", "--db", db]) == 1
    assert Store(db).list_realms() == []


def test_key_cli_rotates(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    assert main(["key", "rotate", "--db", db]) == 0
    assert main(["key", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "signing key 2 added" in out and "1\n2 (active)" in out


def test_module_entry_point_runs_the_realm_command(tmp_path):
    db = tmp_path / "s.db"
    done = subprocess.run(
        [sys.executable, "-m", "signaling_server", "realm", "add", "4242", "--db", str(db)],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "realm 4242 added" in done.stdout
    assert Store(db).realm_exists(4242)
