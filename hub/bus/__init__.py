"""Publish/subscribe for timeline changes: one port, two adapters.

* :mod:`.local` — the port (:class:`Bus`) and its in-process adapter: one hub
  process, the embedded SQLite default.
* :mod:`.mongo` — :class:`MongoBus`: several hub instances on one MongoDB (or
  FerretDB ≥ 1.18) share a capped collection tailed with an ``awaitData``
  cursor, one tail per process fanned out in-process.
* :mod:`.wire` — a :class:`BusMessage` as a document and back.

Every adapter keeps the in-process semantics: publishing never waits; a
subscriber that may have missed a message gets a :class:`Resync` and re-reads
from the store by cursor.
"""

from __future__ import annotations

from hub.bus.local import Bus, BusMessage, Filter, Resync, Subscription, Topic

__all__ = ["Bus", "BusMessage", "Filter", "Resync", "Subscription", "Topic"]
