"""Search on SQLite: an FTS5 table over the events' text and subject.

``events_fts`` is an external-content FTS5 table (``content_rowid`` is the
event's ``seq``) kept by triggers on ``events``: indexing an event is part of
the statement that inserts it, so the append keeps its one transaction and its
statement count. See :mod:`hub.timeline.search` for what is indexed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hub.timeline.cursors import clamp, seq_cursor
from hub.timeline.search import SearchPage, SearchQuery
from hub.timeline.sqlite.base import SQLiteBase, ts
from hub.timeline.sqlite.engine import rows
from hub.timeline.sqlite.events import event_record
from hub.timeline.store import encode_cursor

__all__ = ["BACKFILL", "SEARCH_SCHEMA", "SearchOps"]

KINDS = "'message', 'note', 'call', 'voicemail'"
"""``SEARCHABLE`` as SQL (the triggers' DDL is fixed text; a test keeps the two equal)."""
_FTS = """
    CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
        text, subject, content = 'events', content_rowid = 'seq',
        tokenize = 'unicode61 remove_diacritics 2'
    )
"""
SEARCH_SCHEMA = (
    _FTS,
    """
    CREATE TRIGGER IF NOT EXISTS events_fts_insert AFTER INSERT ON events
    WHEN new.kind IN ('message', 'note', 'call', 'voicemail') BEGIN
        INSERT INTO events_fts (rowid, text, subject) VALUES (new.seq, new.text, new.subject);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS events_fts_delete AFTER DELETE ON events
    WHEN old.kind IN ('message', 'note', 'call', 'voicemail') BEGIN
        INSERT INTO events_fts (events_fts, rowid, text, subject)
        VALUES ('delete', old.seq, old.text, old.subject);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS events_fts_update AFTER UPDATE OF text, subject ON events
    WHEN old.kind IN ('message', 'note', 'call', 'voicemail') BEGIN
        INSERT INTO events_fts (events_fts, rowid, text, subject)
        VALUES ('delete', old.seq, old.text, old.subject);
        INSERT INTO events_fts (rowid, text, subject) VALUES (new.seq, new.text, new.subject);
    END
    """,
)
"""The FTS table and the triggers that keep it (idempotent DDL)."""

BACKFILL = (
    _FTS,
    "INSERT INTO events_fts (rowid, text, subject) "
    "SELECT seq, text, subject FROM events WHERE kind IN ('message', 'note', 'call', 'voicemail')",
)
"""The upgrade step that indexes events stored before search existed."""


def _match(query: SearchQuery) -> str:
    """The FTS5 expression: every word and phrase, quoted (terms hold no quotes)."""
    parts = [f'"{word}"' for word in query.words]
    parts += ['"' + " ".join(phrase) + '"' for phrase in query.phrases]
    return " AND ".join(parts)


def search(
    conn: sqlite3.Connection, query: SearchQuery, before: int | None, limit: int
) -> list[Any]:
    where = ["events_fts MATCH ?"]
    params: list[Any] = [_match(query)]
    join = ""
    if before is not None:
        where.append("e.seq < ?")
        params.append(before)
    if query.channel is not None:
        where.append("e.channel = ?")
        params.append(query.channel)
    if query.customer_id is not None:
        where.append("e.customer_id = ?")
        params.append(query.customer_id)
    if query.since is not None:
        where.append("e.occurred_at >= ?")
        params.append(ts(query.since))
    if query.until is not None:
        where.append("e.occurred_at < ?")
        params.append(ts(query.until))
    if query.tag is not None:
        join = " JOIN conversations c ON c.id = e.conversation_id"
        where.append("EXISTS (SELECT 1 FROM json_each(c.tags) t WHERE t.value = ?)")
        params.append(query.tag)
    sql = (
        "SELECT e.* FROM events_fts JOIN events e ON e.seq = events_fts.rowid"  # noqa: S608
        f"{join} WHERE {' AND '.join(where)} ORDER BY e.seq DESC LIMIT ?"
    )
    return [event_record(row) for row in rows(conn, sql, (*params, limit + 1))]


class SearchOps(SQLiteBase):
    """``search``: full-text search over every timeline, newest first."""

    async def search(
        self, query: SearchQuery, *, cursor: str | None = None, limit: int = 20
    ) -> SearchPage:
        """Events matching ``query``, newest first (see :mod:`hub.timeline.search`)."""
        limit = clamp(limit)
        before = seq_cursor(cursor) if cursor is not None else None
        found = await self._query(search, query, before, limit)
        items = found[:limit]
        more = len(found) > limit
        return SearchPage(items=items, next=encode_cursor(items[-1].seq) if more else None)
