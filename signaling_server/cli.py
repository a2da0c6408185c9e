"""Command line: serve (default), ``realm add|list|remove``, ``key list|rotate``.

Every config key has a flag (``--heartbeat-interval-secs 1``); flags override
``ACTR_SIGNALING_*`` variables, which override the ``--config`` TOML file.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from actr_py.errors import ConfigError

from .config import ENV_PREFIX, FIELDS, ServerConfig, load_config
from .service import DEV_REALM
from .store import Store

__all__ = ["main"]

_PROG = "actr-signaling"


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="actr signaling server. Subcommands: 'realm add|list|remove', "
        "'key list|rotate' (run '%(prog)s realm -h').",
        epilog=f"Every option can also be set as {ENV_PREFIX}<KEY> or in the TOML --config file.",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML config file")
    for name, f in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        help_ = f"{f.metadata.get('help', '')} (default: {f.default!r})"
        if f.type == "bool":
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_)
        elif name == "realms":
            parser.add_argument("--realm", dest=name, action="append", type=int, default=None,
                                metavar="ID", help="accept this realm id (repeatable)")
        else:
            parser.add_argument(flag, dest=name, default=None, metavar=name.upper(), help=help_)
    return parser


def _admin_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_PROG, description="Administer the server database.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="SQLite database (default: from config/env)")
    common.add_argument("--config", metavar="FILE", help="TOML config file")
    groups = parser.add_subparsers(dest="group", required=True)

    realm = groups.add_parser("realm", help="provision realms").add_subparsers(
        dest="action", required=True
    )
    add = realm.add_parser("add", parents=[common], help="create a realm")
    add.add_argument("realm_id", type=int)
    add.add_argument("--name", default="", help="a label for humans")
    remove = realm.add_parser("remove", parents=[common], help="delete a realm")
    remove.add_argument("realm_id", type=int)
    realm.add_parser("list", parents=[common], help="list provisioned realms")

    key = groups.add_parser("key", help="credential signing keys").add_subparsers(
        dest="action", required=True
    )
    key.add_parser("list", parents=[common], help="list signing key ids")
    key.add_parser(
        "rotate", parents=[common],
        help="add a new signing key (used after the next server start; old keys still verify)",
    )
    return parser


def _admin(argv: Sequence[str]) -> int:
    args = _admin_parser().parse_args(argv)
    overrides = {"db": args.db} if args.db else {}
    config = load_config(config_file=args.config, env=os.environ, overrides=overrides)
    store = Store(config.db)
    try:
        if args.group == "realm":
            return _realm(store, config, args)
        return _key(store, args)
    finally:
        store.close()


def _realm(store: Store, config: ServerConfig, args: argparse.Namespace) -> int:
    if args.action == "add":
        if not 0 <= args.realm_id < 2**32:
            raise ConfigError(f"realm id {args.realm_id} is outside 0..2^32-1")
        created = store.add_realm(args.realm_id, args.name)
        print(f"realm {args.realm_id} {'added' if created else 'already exists'}")
    elif args.action == "remove":
        if not store.remove_realm(args.realm_id):
            print(f"realm {args.realm_id} does not exist in {config.db}", file=sys.stderr)
            return 1
        print(f"realm {args.realm_id} removed")
    else:
        for row in store.list_realms():
            when = datetime.datetime.fromtimestamp(row.created_at, datetime.UTC)
            print(f"{row.realm_id}\t{row.name}\t{when:%Y-%m-%dT%H:%M:%SZ}")
        if config.dev_realm and not store.realm_exists(DEV_REALM):
            print(f"{DEV_REALM}\tdev (built in; disable with --no-dev-realm)\t-")
    return 0


def _key(store: Store, args: argparse.Namespace) -> int:
    if args.action == "rotate":
        store.ensure_signing_key()
        row = store.add_signing_key()
        print(f"signing key {row.key_id} added; restart the server to sign with it")
    else:
        keys = store.signing_keys()
        for row in keys:
            active = " (active)" if row is keys[-1] else ""
            print(f"{row.key_id}{active}")
    return 0


def _serve(argv: Sequence[str]) -> int:
    args = _serve_parser().parse_args(argv)
    overrides: dict[str, Any] = {
        k: v for k, v in vars(args).items() if k in FIELDS and v is not None
    }
    config = load_config(config_file=args.config, env=os.environ, overrides=overrides)
    logging.basicConfig(
        level=config.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(_run(config))
    return 0


async def _run(config: ServerConfig) -> None:
    from .app import serve

    await serve(config)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in ("realm", "key"):
            return _admin(argv)
        if argv and argv[0] == "serve":
            argv = argv[1:]
        return _serve(argv)
    except ConfigError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
