"""What a media callback receives: samples of a track, then its end.

A :class:`MediaSample` is one whole frame of one track, either decoded (a
PyAV ``VideoFrame``/``AudioFrame`` in ``frame``) or encoded (the codec's
bitstream for that frame in ``data``, as the RTP depayloader assembled it).
Its ``track_id``, ``kind`` and ``codec`` are those negotiated for the RTP
track it came on, and ``timestamp`` is that track's RTP clock, counted from
the first frame this node received on it, so samples of one track can be
placed in time exactly (``time`` gives seconds).

:class:`TrackEnded` is delivered once, last, when the sender removed the
track, the connection to it was lost, or this node stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

import av

from .codecs import MediaKind
from .errors import InvalidTrackId

__all__ = ["MediaEvent", "MediaSample", "TrackEnded", "check_track_id"]

# RFC 8830 msid-appdata: 1*64 token-char (RFC 4566).
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]{1,64}")


def check_track_id(track_id: str) -> str:
    """Return ``track_id`` if it can be announced in SDP, else raise InvalidTrackId."""
    if not isinstance(track_id, str) or not _TOKEN.fullmatch(track_id):
        raise InvalidTrackId(
            f"track id {track_id!r}: use 1-64 letters, digits or !#$%&'*+-.^_`{{|}}~"
        )
    return track_id


@dataclass(frozen=True, slots=True)
class MediaSample:
    """One frame of a track, decoded (``frame``) or encoded (``data``)."""

    track_id: str
    kind: MediaKind
    codec: str  # "VP8", "H264" or "OPUS"
    #: RTP clock units since the first frame of this track received here.
    timestamp: int
    clock_rate: int
    #: Counts the samples of this track delivered in this form (decoded or
    #: encoded), from 0; a gap means frames were dropped on the way to you.
    sequence: int
    frame: av.VideoFrame | av.AudioFrame | None = None
    data: bytes | None = None
    keyframe: bool = False

    @property
    def time(self) -> float:
        """Seconds since the first frame of this track received here."""
        return self.timestamp / self.clock_rate

    @property
    def encoded(self) -> bool:
        return self.data is not None


@dataclass(frozen=True, slots=True)
class TrackEnded:
    """The last event of a track: nothing more will arrive on it."""

    track_id: str
    kind: MediaKind
    codec: str | None
    reason: str


MediaEvent: TypeAlias = MediaSample | TrackEnded
