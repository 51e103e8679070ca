"""Search on MongoDB: each event document's ``terms`` under a multikey index.

The terms are written by the insert that appends the event (no extra command);
a query asks for events holding every term (``$all``), newest first, and checks
phrases (consecutive words) on the documents it reads. FerretDB v1.24 has no
text indexes (``$text`` fails), hence terms rather than a text index; this
runs the same on MongoDB. See :mod:`hub.timeline.search`.
"""

from __future__ import annotations

from pymongo import DESCENDING

from hub.timeline.codec import event_from_doc
from hub.timeline.cursors import clamp, seq_cursor
from hub.timeline.model import Event
from hub.timeline.mongo.base import Doc, MongoBase, with_id
from hub.timeline.search import SEARCHABLE, SearchPage, SearchQuery
from hub.timeline.store import encode_cursor

__all__ = ["SearchOps"]

MAX_TAGGED = 5000
"""How many conversations of one tag a search looks into (newest first)."""


class SearchOps(MongoBase):
    """``search``: full-text search over every timeline, newest first."""

    async def _filter(self, query: SearchQuery) -> Doc:
        found: Doc = {
            "terms": {"$all": query.all_terms},
            "kind": {"$in": [k.value for k in SEARCHABLE]},
        }
        if query.channel is not None:
            found["channel"] = query.channel
        if query.customer_id is not None:
            found["customer_id"] = query.customer_id
        when: Doc = {}
        if query.since is not None:
            when["$gte"] = query.since
        if query.until is not None:
            when["$lt"] = query.until
        if when:
            found["occurred_at"] = when
        if query.tag is not None:
            tagged = self.conversations.find({"tags": query.tag}, {"_id": 1})
            ids = [
                doc["_id"] async for doc in tagged.sort("last_activity_at", -1).limit(MAX_TAGGED)
            ]
            found["conversation_id"] = {"$in": ids}
        return found

    async def search(
        self, query: SearchQuery, *, cursor: str | None = None, limit: int = 20
    ) -> SearchPage:
        """Events matching ``query``, newest first (see :mod:`hub.timeline.search`)."""
        limit = clamp(limit)
        before = seq_cursor(cursor) if cursor is not None else None
        base = await self._filter(query)
        items: list[Event] = []
        batch = limit + 1 if not query.phrases else (limit + 1) * 4
        while len(items) <= limit:
            page = dict(base)
            if before is not None:
                page["seq"] = {"$lt": before}
            docs = [
                doc
                async for doc in self.event_docs.find(page, {"terms": 0})
                .sort("seq", DESCENDING)
                .limit(batch)
            ]
            for doc in docs:
                event = event_from_doc(with_id(doc))
                if query.matches_phrases(event):
                    items.append(event)
            if len(docs) < batch:
                break
            before = int(docs[-1]["seq"])
        more = len(items) > limit
        items = items[:limit]
        return SearchPage(items=items, next=encode_cursor(items[-1].seq) if more else None)
