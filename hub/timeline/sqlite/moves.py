"""Merging conversations on SQLite: events move in one transaction, both folds redone."""

from __future__ import annotations

import sqlite3

from hub.errors import Conflict, NotFound
from hub.timeline.fold import refold
from hub.timeline.model import Conversation, ConversationStatus, utcnow
from hub.timeline.sqlite.base import SQLiteBase, ts
from hub.timeline.sqlite.conversations import conversation_by_id
from hub.timeline.sqlite.engine import rows, run
from hub.timeline.sqlite.events import event_record, save_fold

__all__ = ["MoveOps"]


def _get(conn: sqlite3.Connection, conversation_id: str) -> Conversation:
    found = conversation_by_id(conn, conversation_id)
    if found is None:
        raise NotFound(f"no conversation {conversation_id!r}")
    return found


def _refold(conn: sqlite3.Connection, conv: Conversation) -> Conversation:
    found = rows(conn, "SELECT * FROM events WHERE conversation_id = ? ORDER BY seq", (conv.id,))
    refold(conv, [event_record(r) for r in found])
    save_fold(conn, conv)
    run(conn, "UPDATE conversations SET opened_at = ? WHERE id = ?", (ts(conv.opened_at), conv.id))
    return conv


def _merge(conn: sqlite3.Connection, source_id: str, target_id: str) -> Conversation:
    if source_id == target_id:
        raise Conflict("cannot merge a conversation into itself")
    source, target = _get(conn, source_id), _get(conn, target_id)
    if source.customer_id != target.customer_id:
        raise Conflict("only conversations of one customer can be merged")
    run(
        conn,
        "UPDATE events SET conversation_id = ?, meta = json_set(meta, '$.merged_from', ?) "
        "WHERE conversation_id = ? AND json_extract(meta, '$.merged_from') IS NULL",
        (target_id, source_id, source_id),
    )
    run(
        conn,
        "UPDATE events SET conversation_id = ? WHERE conversation_id = ?",
        (target_id, source_id),
    )
    run(
        conn,
        "UPDATE conversations SET status = ?, resolved_at = ?, waiting_since = NULL WHERE id = ?",
        (ConversationStatus.RESOLVED.value, ts(utcnow()), source_id),
    )
    return _refold(conn, target)


def _unmerge(conn: sqlite3.Connection, source_id: str) -> list[Conversation]:
    source = _get(conn, source_id)
    left = [
        str(r["conversation_id"])
        for r in rows(
            conn,
            "SELECT DISTINCT conversation_id FROM events "
            "WHERE json_extract(meta, '$.merged_from') = ?",
            (source_id,),
        )
        if r["conversation_id"] and r["conversation_id"] != source_id
    ]
    if not left:
        raise Conflict(f"conversation {source_id} is not merged")
    run(
        conn,
        "UPDATE events SET conversation_id = ?, meta = json_remove(meta, '$.merged_from') "
        "WHERE json_extract(meta, '$.merged_from') = ?",
        (source_id, source_id),
    )
    run(
        conn,
        "UPDATE conversations SET status = ?, resolved_at = NULL WHERE id = ?",
        (ConversationStatus.OPEN.value, source_id),
    )
    source.status, source.resolved_at = ConversationStatus.OPEN, None
    return [_refold(conn, source), *(_refold(conn, _get(conn, c)) for c in left)]


class MoveOps(SQLiteBase):
    """``merge_conversations`` / ``unmerge_conversation``."""

    async def merge_conversations(self, source_id: str, target_id: str) -> Conversation:
        """Move every event of ``source_id`` into ``target_id`` (marked ``meta.merged_from``
        unless it came from a merge already), resolve the source, refold the target."""
        return await self._unit(_merge, source_id, target_id)

    async def unmerge_conversation(self, source_id: str) -> list[Conversation]:
        """Move the events marked ``merged_from = source_id`` back and reopen it: the
        source, then each conversation they left, refolded."""
        return await self._unit(_unmerge, source_id)
