"""The actr signaling server: registration, discovery, presence and relay for actr nodes.

Run it with ``python -m signaling_server`` (see README.md). The modules:

* :mod:`.config` - settings from TOML file, environment and flags;
* :mod:`.store` - what persists in SQLite (realms, keys, serials, registrations, specs);
* :mod:`.acl`, :mod:`.ratelimit`, :mod:`.registry` - pure policy and bookkeeping;
* :mod:`.service` - the protocol; :mod:`.app` - the aiohttp routes; :mod:`.cli` - the CLI.
"""

from __future__ import annotations

from .config import ServerConfig, load_config

__all__ = ["ServerConfig", "load_config"]
