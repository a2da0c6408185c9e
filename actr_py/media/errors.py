"""Media errors: typed, with actr codes, in the actr exception tree.

All of them are :class:`~actr_py.errors.LocalError` s: this process asked for
something the media layer cannot do, and nothing was sent. A peer or path
that fails raises :class:`~actr_py.errors.Unavailable` (503) as elsewhere.
"""

from __future__ import annotations

from ..errors import LocalError

__all__ = ["InvalidTrackId", "TrackExists", "UnknownTrack", "UnsupportedCodec"]


class UnsupportedCodec(LocalError, ValueError):
    """A codec actr media does not carry (VP8, H264 and Opus are), or a kind mismatch."""


class InvalidTrackId(LocalError, ValueError):
    """A track id that cannot travel in an SDP ``msid`` (1-64 token characters)."""


class UnknownTrack(LocalError, LookupError):
    """No track with this id to this peer (never added, removed, or ended)."""

    code = 404


class TrackExists(LocalError):
    """A live track with this id to this peer already exists."""

    code = 409
