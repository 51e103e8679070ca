"""What each conversation's events say, kept between reports.

Reading every event of every conversation is what a report over a month costs; the
events say the same until one is appended or moved (a merge). So the part of
a conversation's facts that comes from its events (:func:`hub.metrics.facts.measure`)
is kept per conversation under the store's mark for it
(:meth:`~hub.timeline.store.TimelineStore.event_marks`: count and sum of ``seq``, an
index-only query) and the calendar it was measured on; an amendment (a reaction, an
edit, a deletion) leaves the mark, as it touches nothing the facts read. A report reads
the marks (one grouped index query per page of conversations) and the events of only
the conversations whose mark moved. The dimensions (assignee, tags,
priority, the customer's tier) come from the conversation and customer each time, so
a reassignment or a customer's new plan shows at once. Every instance keeps its own
cache; being keyed by what the store says, none can serve a stale number.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from hub.metrics.facts import Facts
from hub.operations.calendar import BusinessCalendar
from hub.timeline.store import TimelineStore

__all__ = ["MAX_ENTRIES", "FactsCache", "Key", "cache_for"]

MAX_ENTRIES = 500_000
Key = tuple[str, BusinessCalendar]
"""The store's event mark for a conversation and the calendar it was measured on."""


@dataclass(slots=True)
class FactsCache:
    """Measured facts by conversation id, each with the key it was measured under."""

    entries: dict[str, tuple[Key, Facts | None]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def get(self, conversation_id: str, key: Key) -> tuple[bool, Facts | None]:
        """``(found, facts)`` for ``conversation_id`` if it was measured under ``key``."""
        entry = self.entries.get(conversation_id)
        if entry is None or entry[0] != key:
            self.misses += 1
            return False, None
        self.hits += 1
        return True, entry[1]

    def put(self, conversation_id: str, key: Key, facts: Facts | None) -> None:
        self.entries.pop(conversation_id, None)
        self.entries[conversation_id] = (key, facts)
        while len(self.entries) > MAX_ENTRIES:
            del self.entries[next(iter(self.entries))]


_CACHES: weakref.WeakKeyDictionary[TimelineStore, FactsCache] = weakref.WeakKeyDictionary()


def cache_for(store: TimelineStore) -> FactsCache:
    """The cache of ``store`` (one per store object, gone with it)."""
    found = _CACHES.get(store)
    if found is None:
        found = _CACHES[store] = FactsCache()
    return found
