"""Values the mailbox hands out: entries, admissions, dead letters, stats, errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import Unavailable
from ..payload_type import PayloadType

__all__ = [
    "PRIORITY_DEFAULT",
    "PRIORITY_SIGNAL",
    "Admission",
    "DeadLetter",
    "EnqueueResult",
    "MailboxEntry",
    "MailboxFull",
    "MailboxStats",
    "MailboxStorageError",
    "priority_for",
]

#: Priorities are plain integers, higher first; these are the two the lanes use.
PRIORITY_DEFAULT = 0
PRIORITY_SIGNAL = 10


def priority_for(payload_type: int) -> int:
    """RPC_SIGNAL has its own lane so it never waits behind bulk RPC; keep that here."""
    return PRIORITY_SIGNAL if payload_type == PayloadType.RPC_SIGNAL else PRIORITY_DEFAULT


class MailboxFull(Unavailable):
    """The mailbox holds ``capacity`` messages; the sender should retry later (503)."""

    def __init__(self, depth: int, capacity: int) -> None:
        super().__init__(f"mailbox full: {depth} of {capacity} messages")
        self.depth = depth
        self.capacity = capacity


class MailboxStorageError(Unavailable):
    """SQLite refused a write (disk full, I/O error); nothing of that batch was kept."""


class MailboxEntry(NamedTuple):
    """One message as the consumer sees it (a tuple: cheap on the hot path).

    ``seq`` is the arrival order and the handle for ``complete``/``fail``;
    ``attempts`` counts deliveries including this one (0 before the first), and
    survives crashes, so a message that kills the process is eventually stopped.
    """

    seq: int
    priority: int
    sender: str
    payload_type: int
    request_id: str
    envelope: bytes
    attempts: int
    enqueued_at: float


class Admission(enum.Enum):
    """What ``enqueue`` did with a message."""

    #: Durably stored; it will be delivered.
    ACCEPTED = "accepted"
    #: Already answered inside the dedup window: re-send ``response`` (None for tells).
    ANSWERED = "answered"
    #: The same (sender, request_id) is queued or in flight: its reply is coming.
    PENDING = "pending"


class EnqueueResult(NamedTuple):
    admission: Admission
    #: The stored entry, when ``admission`` is ACCEPTED.
    entry: MailboxEntry | None = None
    #: The remembered reply, when ``admission`` is ANSWERED and the request had one.
    duplicate_response: bytes | None = None

    @property
    def accepted(self) -> bool:
        return self.admission is Admission.ACCEPTED


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that will not be retried, with why.

    ``seq`` is None for raw messages that never entered the queue (undecodable);
    those cannot be redriven.
    """

    id: int
    seq: int | None
    priority: int
    sender: str
    payload_type: int
    request_id: str
    envelope: bytes
    attempts: int
    enqueued_at: float
    category: str
    message: str
    dead_at: float


@dataclass(frozen=True, slots=True)
class MailboxStats:
    capacity: int
    #: Messages held: queued + in flight + accepted but not yet committed.
    depth: int
    queued: int
    in_flight: int
    dead_letters: int
    #: Answered request ids currently remembered for dedup.
    remembered: int
    accepted: int
    completed: int
    failed: int
    dead_lettered: int
    duplicates: int
    rejected_full: int
    #: Transactions committed and the operations they carried (group commit).
    commits: int
    operations: int
    #: Longest transaction since open, in seconds; it ran on (and held) the loop.
    longest_commit: float
