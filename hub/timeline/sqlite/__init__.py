"""The SQLite adapter of the ``TimelineStore`` port (see :mod:`.store`).

Modules by role: ``base`` (connection, lock, transactions, column codecs),
``schema``, ``customers`` (identities, merge, unmerge), ``conversations``,
``events`` (append, fold, pages), ``outbox`` (claims, deliveries), ``records``
(checkpoints, API tokens).
"""

from __future__ import annotations

from hub.timeline.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
