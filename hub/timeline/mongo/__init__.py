"""The MongoDB adapter of the ``TimelineStore`` port (see :mod:`.store`).

Modules by role: ``base`` (client, collections, helpers), ``indexes``,
``customers`` (identities, merge, unmerge), ``conversations``, ``events``
(append, fold, pages), ``outbox`` (claims, deliveries), ``records``
(checkpoints, API tokens).
"""

from __future__ import annotations

from hub.timeline.mongo.store import MongoStore

__all__ = ["MongoStore"]
