"""Media between actors: real RTP tracks on the WebRTC peer connection.

``PayloadType.MEDIA_RTP`` is not a frame format: media rides RTP tracks
(VP8 PT 96, H264 PT 102, Opus PT 111) negotiated on the same peer connection
as the DataChannel lanes, packetized and paced by aiortc. Handlers use it
through :class:`~actr_py.Context`: ``add_media_track`` / ``remove_media_track``
/ ``send_media_sample`` to send, ``register_media_track`` /
``unregister_media_track`` to receive. ``actr_py.media.relay`` (import it
explicitly: it defines a Workload) forwards one track to many subscribers
without re-encoding. See docs/media.md.

Module map: ``codecs`` (the codec table, keyframe detection), ``sample``
(what callbacks get), ``registry`` (samples to callbacks), ``outbound`` (the
track a sender pulls from), ``inbound`` (one received track), ``manager``
(a node's tracks), ``relay`` (fan-out), ``testpattern`` and ``png`` (test
frames and snapshots).
"""

from .codecs import CODECS, CodecSpec, MediaKind, codec_spec, is_keyframe
from .errors import InvalidTrackId, TrackExists, UnknownTrack, UnsupportedCodec
from .manager import MediaManager, OnEnded
from .outbound import OutboundTrack, Pushable
from .registry import MediaCallback, MediaFrameRegistry, MediaMode, MediaStats
from .sample import MediaEvent, MediaSample, TrackEnded, check_track_id

__all__ = [
    "CODECS",
    "CodecSpec",
    "InvalidTrackId",
    "MediaCallback",
    "MediaEvent",
    "MediaFrameRegistry",
    "MediaKind",
    "MediaManager",
    "MediaMode",
    "MediaSample",
    "MediaStats",
    "OnEnded",
    "OutboundTrack",
    "Pushable",
    "TrackEnded",
    "TrackExists",
    "UnknownTrack",
    "UnsupportedCodec",
    "check_track_id",
    "codec_spec",
    "is_keyframe",
]
