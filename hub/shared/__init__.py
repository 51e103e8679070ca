"""What hub instances share besides the timeline: expiring entries (presence,
typing), budgets (rate limits) and leases (schedulers that run once).

* :mod:`.local` — the port (:class:`SharedState`) and its in-process adapter;
* :mod:`.mongo` — :class:`~hub.shared.mongo.MongoSharedState`, in the store's
  MongoDB database, for several instances.
"""

from __future__ import annotations

from hub.shared.local import Entry, SharedState

__all__ = ["Entry", "SharedState"]
