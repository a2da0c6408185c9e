"""The durable mailbox: inbound requests wait here, in SQLite, until handled.

A crash loses nothing that was accepted, a restart resumes where it stopped,
duplicates of answered requests get the remembered reply, and messages that keep
failing end up in dead letters that can be listed, redriven and purged.
``docs/mailbox.md`` states the guarantees; :class:`Mailbox` is the entry point.
"""

from .mailbox import Mailbox, WaterMarkCallback
from .types import (
    PRIORITY_DEFAULT,
    PRIORITY_SIGNAL,
    Admission,
    DeadLetter,
    EnqueueResult,
    MailboxEntry,
    MailboxFull,
    MailboxStats,
    MailboxStorageError,
    priority_for,
)

__all__ = [
    "PRIORITY_DEFAULT",
    "PRIORITY_SIGNAL",
    "Admission",
    "DeadLetter",
    "EnqueueResult",
    "Mailbox",
    "MailboxEntry",
    "MailboxFull",
    "MailboxStats",
    "MailboxStorageError",
    "WaterMarkCallback",
    "priority_for",
]
