"""The one check behind every seam that reaches into aiortc's or aioice's internals.

``gathering``, ``sctp_fast`` and ``media_seam`` each rely on private details
of a library version they were written against; each refuses, with a
ConfigError naming what to review, on a version nobody has checked.
"""

from __future__ import annotations

from ...errors import ConfigError

__all__ = ["major_minor", "require_tested"]


def major_minor(text: str) -> tuple[int, int]:
    """``"1.16.0"`` -> ``(1, 16)``; anything unreadable -> ``(-1, -1)`` (never tested)."""
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (-1, -1)


def require_tested(
    feature: str, package: str, found: str, tested: frozenset[tuple[int, int]], review: str
) -> None:
    """Raise ConfigError unless ``found`` is a (major, minor) in ``tested``."""
    if major_minor(found) in tested:
        return
    known = ", ".join(f"{a}.{b}" for a, b in sorted(tested))
    raise ConfigError(
        f"{feature}: {package} {found} is untested (tested: {known}); check "
        f"{review} against it and extend TESTED_{package.upper()}"
    )
