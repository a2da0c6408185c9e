"""Snapshots: a decoded video frame as PNG bytes, with PyAV's own PNG encoder.

Why here: subscribers in the example and tests save what they received so a
human can look at it; PIL is not a dependency, and FFmpeg (inside PyAV)
already encodes PNG.
"""

from __future__ import annotations

from pathlib import Path

import av

__all__ = ["frame_to_png", "save_png"]


def frame_to_png(frame: av.VideoFrame) -> bytes:
    """Encode one frame (any pixel format) as a PNG image."""
    rgb = frame.reformat(format="rgb24")
    codec = av.CodecContext.create("png", "w")
    codec.width = rgb.width
    codec.height = rgb.height
    codec.pix_fmt = "rgb24"
    rgb.pts = None
    data = b"".join(bytes(p) for p in codec.encode(rgb))
    data += b"".join(bytes(p) for p in codec.encode(None))
    return data


def save_png(frame: av.VideoFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` as PNG; returns the path."""
    target = Path(path)
    target.write_bytes(frame_to_png(frame))
    return target
