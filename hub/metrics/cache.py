"""What each conversation contributes to a report, kept between reports.

Reading every event of every conversation is what a report over a month costs, and
most conversations are as they were at the last report. The store gives two marks per
conversation (:meth:`~hub.timeline.store.TimelineStore.report_marks`, one query): one
of its events (count and ``seq`` sum: moves when an event is appended or moved by a
merge; an amendment — reaction, edit, deletion — changes nothing the facts read) and
one of all a report reads (the conversation's stored fields, its customer's
``updated_at``, the events mark). Two levels are kept per conversation:

* **dressed** facts under the whole mark and the report's context (SLA settings,
  calendars, agents' names): a conversation whose mark has not moved costs a lookup;
* **measured** facts (:func:`hub.metrics.facts.measure`) under the events mark and the
  calendar: a reassignment or a customer's new plan re-dresses without reading events.

Every instance keeps its own cache; being keyed by what the store says, none can serve
a stale number.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from hub.metrics.facts import Facts
from hub.operations.calendar import BusinessCalendar
from hub.timeline.store import TimelineStore

__all__ = ["MAX_ENTRIES", "Entries", "FactsCache", "cache_for"]

MAX_ENTRIES = 500_000
K = TypeVar("K", bound=Hashable)


@dataclass(slots=True)
class Entries(Generic[K]):
    """Facts (``None``: nothing to measure) by conversation id, each under its key."""

    entries: dict[str, tuple[K, Facts | None]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def get(self, conversation_id: str, key: K) -> tuple[bool, Facts | None]:
        """``(found, facts)`` for ``conversation_id`` if it was kept under ``key``."""
        entry = self.entries.get(conversation_id)
        if entry is None or entry[0] != key:
            self.misses += 1
            return False, None
        self.hits += 1
        return True, entry[1]

    def put(self, conversation_id: str, key: K, facts: Facts | None) -> None:
        self.entries.pop(conversation_id, None)
        self.entries[conversation_id] = (key, facts)
        while len(self.entries) > MAX_ENTRIES:
            del self.entries[next(iter(self.entries))]


@dataclass(slots=True)
class FactsCache:
    """The two levels (see the module docstring)."""

    dressed: Entries[tuple[str, int]] = field(default_factory=Entries)
    measured: Entries[tuple[str, BusinessCalendar]] = field(default_factory=Entries)

    def clear(self) -> None:
        self.dressed.entries.clear()
        self.measured.entries.clear()


_CACHES: weakref.WeakKeyDictionary[TimelineStore, FactsCache] = weakref.WeakKeyDictionary()


def cache_for(store: TimelineStore) -> FactsCache:
    """The cache of ``store`` (one per store object, gone with it)."""
    found = _CACHES.get(store)
    if found is None:
        found = _CACHES[store] = FactsCache()
    return found
