"""Pure protocol logic: no I/O, no event loop, time passed in.

Like aioquic's connection state machine, these pieces are tested
deterministically; the gates wrap them in thin asyncio adapters.
"""

from .codec import ContentType, decode_payload, encode_payload
from .envelope import CHAIN_KEY, Direction, EnvelopeFactory, decode_envelope, metadata_value
from .pending import PendingCalls
from .sequencer import StreamSequencer

__all__ = [
    "CHAIN_KEY",
    "ContentType",
    "Direction",
    "EnvelopeFactory",
    "PendingCalls",
    "StreamSequencer",
    "decode_envelope",
    "decode_payload",
    "encode_payload",
    "metadata_value",
]
