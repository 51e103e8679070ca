"""Suggested identity links and used link tokens on SQLite (see :mod:`hub.timeline.handoff`)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from hub.errors import NotFound
from hub.timeline.cursors import clamp
from hub.timeline.handoff import DomainCustomer, LinkSuggestion, SuggestionStatus
from hub.timeline.model import Identity, utcnow
from hub.timeline.sqlite.base import Row, SQLiteBase, dumps, insert_sql, parse_ts, req_ts, ts
from hub.timeline.sqlite.engine import one, rows, run

HANDOFF_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS link_suggestions (
        id TEXT PRIMARY KEY,
        pair_key TEXT NOT NULL UNIQUE,
        customer_id TEXT NOT NULL,
        other_customer_id TEXT,
        identity TEXT NOT NULL,
        score REAL NOT NULL,
        evidence TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        decided_at TEXT,
        decided_by TEXT,
        reason TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS link_suggestions_customer ON link_suggestions (customer_id)",
    "CREATE INDEX IF NOT EXISTS link_suggestions_other ON link_suggestions (other_customer_id)",
    # Email identities by domain (the part after the first "@"); other kinds never equal a
    # domain (their keys keep "kind:"), and the query also demands the "email:" prefix.
    # The query repeats this expression word for word so SQLite uses the index.
    "CREATE INDEX IF NOT EXISTS identities_email_domain "
    "ON identities (substr(key, instr(key, '@') + 1))",
    """
    CREATE TABLE IF NOT EXISTS shared_identities (
        identity TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (identity, customer_id)
    )
    """,
    "CREATE INDEX IF NOT EXISTS shared_identities_customer ON shared_identities (customer_id)",
    """
    CREATE TABLE IF NOT EXISTS used_link_tokens (
        id TEXT PRIMARY KEY,
        used_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )
    """,
)


def suggestion_record(row: Row) -> LinkSuggestion:
    """A stored suggestion row as the model record."""
    return LinkSuggestion(
        id=row["id"],
        customer_id=row["customer_id"],
        identity=Identity(*row["identity"].split(":", 1)),
        score=float(row["score"]),
        evidence=json.loads(row["evidence"]),
        other_customer_id=row["other_customer_id"],
        status=SuggestionStatus(row["status"]),
        created_at=req_ts(row["created_at"]),
        decided_at=parse_ts(row["decided_at"]),
        decided_by=row["decided_by"],
        reason=row["reason"],
    )


def insert_suggestion(
    conn: sqlite3.Connection, suggestion: LinkSuggestion
) -> tuple[LinkSuggestion, bool]:
    """Store ``suggestion`` unless its pair has one; (the stored one, created)."""
    row: Row = {
        "id": suggestion.id,
        "pair_key": suggestion.pair_key,
        "customer_id": suggestion.customer_id,
        "other_customer_id": suggestion.other_customer_id,
        "identity": str(suggestion.identity),
        "score": suggestion.score,
        "evidence": dumps(suggestion.evidence),
        "status": suggestion.status.value,
        "created_at": ts(suggestion.created_at),
        "decided_at": ts(suggestion.decided_at),
        "decided_by": suggestion.decided_by,
        "reason": suggestion.reason,
    }
    sql, params = insert_sql("link_suggestions", row, conflict="ON CONFLICT DO NOTHING")
    created = run(conn, sql, params) == 1
    stored = one(conn, "SELECT * FROM link_suggestions WHERE pair_key = ?", (suggestion.pair_key,))
    assert stored is not None
    return suggestion_record(stored), created


def suggestions_of(
    conn: sqlite3.Connection,
    customer_id: str | None,
    limit: int,
    status: SuggestionStatus | None = None,
) -> list[LinkSuggestion]:
    where: list[str] = []
    params: list[object] = []
    if customer_id is not None:
        where.append("(customer_id = ? OR other_customer_id = ?)")
        params += [customer_id, customer_id]
    if status is not None:
        where.append("status = ?")
        params.append(SuggestionStatus(status).value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = "ORDER BY created_at DESC, rowid DESC LIMIT ?"
    sql = f"SELECT * FROM link_suggestions {clause} {order}"  # noqa: S608
    return [suggestion_record(row) for row in rows(conn, sql, [*params, clamp(limit)])]


def domain_customers(conn: sqlite3.Connection, domain: str, limit: int) -> list[DomainCustomer]:
    sql = (
        "SELECT i.customer_id AS id, c.name AS name, MIN(i.n) AS first FROM identities i "
        "JOIN customers c ON c.id = i.customer_id "
        "WHERE substr(key, instr(key, '@') + 1) = ? AND substr(key, 1, 6) = 'email:' "
        "AND c.merged_into IS NULL GROUP BY i.customer_id ORDER BY first LIMIT ?"
    )
    found = rows(conn, sql, (domain.lower(), clamp(limit)))
    return [DomainCustomer(row["id"], row["name"]) for row in found]


class HandoffOps(SQLiteBase):
    """Link suggestions (one per customer and identity) and used single-use tokens."""

    async def add_suggestion(self, suggestion: LinkSuggestion) -> tuple[LinkSuggestion, bool]:
        return await self._unit(insert_suggestion, suggestion)

    async def get_suggestion(self, suggestion_id: str) -> LinkSuggestion:
        async with self._read() as conn:
            row = await self._one(
                conn, "SELECT * FROM link_suggestions WHERE id = ?", (suggestion_id,)
            )
        if row is None:
            raise NotFound(f"no suggestion {suggestion_id!r}")
        return suggestion_record(row)

    async def list_suggestions(
        self,
        *,
        customer_id: str | None = None,
        status: SuggestionStatus | None = None,
        limit: int = 100,
    ) -> list[LinkSuggestion]:
        return await self._query(suggestions_of, customer_id, limit, status)

    async def decide_suggestion(
        self, suggestion_id: str, status: SuggestionStatus, *, by: str, reason: str | None = None
    ) -> LinkSuggestion | None:
        async with self._write() as conn:
            changed = await self._exec(
                conn,
                "UPDATE link_suggestions SET status = ?, decided_at = ?, decided_by = ?, "
                "reason = ? WHERE id = ? AND status = ?",
                (
                    SuggestionStatus(status).value,
                    ts(utcnow()),
                    by,
                    reason,
                    suggestion_id,
                    SuggestionStatus.PENDING.value,
                ),
            )
            row = await self._one(
                conn, "SELECT * FROM link_suggestions WHERE id = ?", (suggestion_id,)
            )
        if row is None:
            raise NotFound(f"no suggestion {suggestion_id!r}")
        return suggestion_record(row) if changed == 1 else None

    async def use_link_token(self, token_id: str, *, expires_at: datetime) -> bool:
        now = utcnow()
        async with self._write() as conn:
            await self._exec(conn, "DELETE FROM used_link_tokens WHERE expires_at < ?", (ts(now),))
            return (
                await self._exec(
                    conn,
                    "INSERT INTO used_link_tokens (id, used_at, expires_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (token_id, ts(now), ts(expires_at)),
                )
                == 1
            )

    async def customers_on_email_domain(
        self, domain: str, *, limit: int = 200
    ) -> list[DomainCustomer]:
        return await self._query(domain_customers, domain, limit)

    async def share_identity(self, identity: Identity, customer_id: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            return (
                run(
                    conn,
                    "INSERT OR IGNORE INTO shared_identities (identity, customer_id, created_at) "
                    "VALUES (?, ?, ?)",
                    (str(identity), customer_id, ts(utcnow())),
                )
                > 0
            )

        return await self._unit(write)

    async def shared_with(self, identity: Identity) -> tuple[str, ...]:
        return await self._query(shared_with, identity)

    async def shared_of(self, customer_id: str) -> tuple[Identity, ...]:
        return await self._query(shared_of, customer_id)

    async def unshare_identity(self, identity: Identity, customer_id: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            return (
                run(
                    conn,
                    "DELETE FROM shared_identities WHERE identity = ? AND customer_id = ?",
                    (str(identity), customer_id),
                )
                > 0
            )

        return await self._unit(write)


def shared_with(conn: sqlite3.Connection, identity: Identity) -> tuple[str, ...]:
    """The customers ``identity`` is shared with (see :class:`~hub.timeline.work.SharedWith`)."""
    found = rows(
        conn,
        "SELECT customer_id FROM shared_identities WHERE identity = ? ORDER BY created_at",
        (str(identity),),
    )
    return tuple(str(r["customer_id"]) for r in found)


def shared_of(conn: sqlite3.Connection, customer_id: str) -> tuple[Identity, ...]:
    """The identities shared with ``customer_id``."""
    found = rows(
        conn,
        "SELECT identity FROM shared_identities WHERE customer_id = ? ORDER BY created_at",
        (customer_id,),
    )
    return tuple(Identity(*str(r["identity"]).split(":", 1)) for r in found)
