"""Quarantined inbound messages: what a connector could not ingest, kept for an agent.

A message that fails ingest for a reason that will not go away by retrying
(bytes no decoder accepts, no sender to file it under, a parser bug) must not
stop the rest of its source — an IMAP watcher that re-fetched it for ever would
import nothing more. The connector stores the raw bytes as a blob and records a
:class:`QuarantinedMessage` with the reason, then moves on. Agents list
quarantined mail and retry it (after a fix) or leave it.

:class:`QuarantineRecords` is the port section both store adapters implement
(``hub/timeline/sqlite/quarantine.py``, ``hub/timeline/mongo/quarantine.py``).
It is separate from units of work: a quarantined message is never on a timeline.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from hub.timeline.model import new_id, utcnow

__all__ = ["QuarantineRecords", "QuarantineStatus", "QuarantinedMessage", "printable"]


class QuarantineStatus(enum.StrEnum):
    PENDING = "pending"
    RELEASED = "released"


def printable(text: str, limit: int = 500) -> str:
    """``text`` safe to store and show: lone surrogates and control characters replaced."""
    return "".join(
        c if (c.isprintable() and not "\ud800" <= c <= "\udfff") or c in "\n\t" else "\ufffd"
        for c in text[:limit]
    )


@dataclass(slots=True)
class QuarantinedMessage:
    """One inbound message a connector could not ingest.

    ``key`` identifies the message within ``channel`` (a hash of its bytes): the
    same message quarantined twice is one record. ``raw_blob`` is the blob id of
    its bytes exactly as received; ``source`` says where it came from (for email
    ``account``, ``mailbox``, ``uidvalidity``, ``uid``); ``summary`` is what could
    be read of it (sender, subject) for the agent. ``attempts`` counts failed
    ingests (the first one included); a retry that succeeds sets ``event_id``
    and ``status`` released.
    """

    channel: str
    key: str
    reason: str
    raw_blob: str
    size: int
    source: dict[str, Any] = field(default_factory=dict)
    summary: str | None = None
    id: str = field(default_factory=lambda: new_id("qua"))
    status: QuarantineStatus = QuarantineStatus.PENDING
    attempts: int = 1
    event_id: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    @property
    def dedupe_key(self) -> str:
        return f"{self.channel}\x1f{self.key}"


class QuarantineRecords(Protocol):
    """The quarantine section of the store port."""

    async def quarantine(self, record: QuarantinedMessage) -> tuple[QuarantinedMessage, bool]:
        """Store ``record``; if one with its ``channel`` + ``key`` exists, count one more
        failed attempt on it (with the new reason, pending again) and return it,
        ``created=False``."""

    async def get_quarantined(self, record_id: str) -> QuarantinedMessage:
        """NotFound if absent."""

    async def list_quarantined(
        self,
        *,
        channel: str | None = None,
        status: QuarantineStatus | None = QuarantineStatus.PENDING,
        limit: int = 100,
    ) -> list[QuarantinedMessage]:
        """Newest first (``status=None``: any status)."""

    async def settle_quarantined(
        self,
        record_id: str,
        *,
        released: bool,
        event_id: str | None = None,
        reason: str | None = None,
    ) -> QuarantinedMessage:
        """After a retry: ``released`` (ingested as ``event_id``, or skipped when that is
        ``None``), else one more failed attempt with ``reason``. NotFound if absent."""
