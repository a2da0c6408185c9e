"""Known test media: video frames that carry their own number, and a tone.

Why: to prove media arrives intact and to time it glass to glass, the
receiver must know what each frame should look like and when it was made,
without any side channel. A pattern frame carries two 32-bit numbers (its
index and a timestamp, e.g. microseconds of ``time.monotonic()``, which is
one clock for every process on a host) as a band of black and white blocks
big enough to survive lossy VP8/H264 coding; the rest of the frame is a
deterministic gradient with a moving bar and coloured quadrants. So a
receiver decodes the band (:func:`read_code`), regenerates the frame it
should have got (:func:`pattern_frame`) and measures the difference
(:func:`luma_difference`). Pure Python over PyAV planes: numpy is not a
dependency.
"""

from __future__ import annotations

import array
import fractions
import itertools
import math
from collections.abc import Iterator

import av

__all__ = [
    "BITS",
    "dominant_frequency",
    "luma_difference",
    "pattern_frame",
    "pcm_samples",
    "read_code",
    "tone_frames",
]

#: Bits per number in the code band (two numbers: index, stamp).
BITS = 32
_BLACK, _WHITE = 16, 235
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)


def _block(width: int) -> int:
    block = width // BITS
    if block < 8:
        raise ValueError(f"pattern frames need a width of at least {8 * BITS}, got {width}")
    return block


def _code_row(value: int, width: int, block: int, line_size: int) -> bytes:
    row = bytearray(line_size)
    for bit in range(BITS):
        level = _WHITE if (value >> (BITS - 1 - bit)) & 1 else _BLACK
        row[bit * block : (bit + 1) * block] = bytes([level]) * block
    row[BITS * block : width] = bytes([_BLACK]) * (width - BITS * block)
    return bytes(row)


def _picture_row(index: int, width: int, line_size: int) -> bytes:
    row = bytearray(line_size)
    row[:width] = bytes(40 + (x * 160) // width for x in range(width))
    bar = max(8, width // 16)
    start = (index * 8) % width
    end = min(width, start + bar)
    row[start:end] = bytes([220]) * (end - start)
    return bytes(row)


def pattern_frame(
    width: int, height: int, index: int, *, stamp: int = 0, pts: int | None = None
) -> av.VideoFrame:
    """A yuv420p frame showing ``index`` and ``stamp`` (each mod 2**32)."""
    block = _block(width)
    if height < 4 * block:
        raise ValueError(f"pattern frames of width {width} need a height of at least {4 * block}")
    frame = av.VideoFrame(width, height, "yuv420p")
    y_plane, u_plane, v_plane = frame.planes
    ls = y_plane.line_size
    band = [_code_row(index & 0xFFFFFFFF, width, block, ls)] * block
    band += [_code_row(stamp & 0xFFFFFFFF, width, block, ls)] * block
    picture = _picture_row(index, width, ls)
    y_plane.update(b"".join(band) + picture * (height - 2 * block))
    for plane, horizontal in ((u_plane, True), (v_plane, False)):
        cw, ch, cls = plane.width, plane.height, plane.line_size
        if horizontal:
            row = bytes([90]) * (cw // 2) + bytes([170]) * (cw - cw // 2) + bytes(cls - cw)
            plane.update(row * ch)
        else:
            top = bytes([100]) * cw + bytes(cls - cw)
            bottom = bytes([160]) * cw + bytes(cls - cw)
            plane.update(top * (ch // 2) + bottom * (ch - ch // 2))
    frame.pts = index * 3000 if pts is None else pts
    frame.time_base = VIDEO_TIME_BASE
    return frame


def _luma(frame: av.VideoFrame) -> tuple[bytes, int]:
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    return bytes(plane), plane.line_size


def read_code(frame: av.VideoFrame) -> tuple[int, int]:
    """The (index, stamp) a pattern frame shows; decoded frames read back exactly."""
    luma, ls = _luma(frame)
    block = _block(frame.width)
    values = []
    for band in range(2):
        y = band * block + block // 2
        value = 0
        for bit in range(BITS):
            x = bit * block + block // 2
            level = (luma[y * ls + x] + luma[y * ls + x - 1] + luma[(y - 1) * ls + x]) // 3
            value = (value << 1) | (1 if level > (_BLACK + _WHITE) // 2 else 0)
        values.append(value)
    return values[0], values[1]


def luma_difference(got: av.VideoFrame, want: av.VideoFrame, step: int = 4) -> float:
    """Mean absolute luma difference (0-255) on a grid of every ``step``-th pixel."""
    if (got.width, got.height) != (want.width, want.height):
        raise ValueError(f"sizes differ: {got.width}x{got.height} vs {want.width}x{want.height}")
    a, als = _luma(got)
    b, bls = _luma(want)
    total = count = 0
    for y in range(0, got.height, step):
        ra, rb = y * als, y * bls
        for x in range(0, got.width, step):
            total += abs(a[ra + x] - b[rb + x])
            count += 1
    return total / count


def tone_frames(
    frequency: float, *, rate: int = 48000, samples: int = 960, amplitude: int = 8000
) -> Iterator[av.AudioFrame]:
    """Endless s16 stereo frames of a sine tone (20 ms each by default)."""
    n = 0
    step = 2 * math.pi * frequency / rate
    while True:
        pcm = array.array("h")
        for i in range(n, n + samples):
            value = int(amplitude * math.sin(step * i))
            pcm.append(value)
            pcm.append(value)
        frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = rate
        frame.pts = n
        frame.time_base = fractions.Fraction(1, rate)
        n += samples
        yield frame


def pcm_samples(frame: av.AudioFrame) -> array.array[int]:
    """The first channel of a decoded audio frame, as signed 16-bit samples."""
    if frame.format.name != "s16" or frame.format.is_planar:
        frame = av.AudioResampler(format="s16", layout="stereo", rate=frame.sample_rate).resample(
            frame
        )[0]
    data = array.array("h")
    data.frombytes(bytes(frame.planes[0])[: frame.samples * 2 * len(frame.layout.channels)])
    return data[:: len(frame.layout.channels)]


def dominant_frequency(samples: array.array[int] | list[int], rate: int) -> float:
    """The frequency of a clean tone, from its rate of rising zero crossings."""
    crossings = sum(1 for a, b in itertools.pairwise(samples) if a < 0 <= b)
    return crossings * rate / max(1, len(samples))
