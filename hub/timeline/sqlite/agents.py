"""Agents (the people who sign in to the agent view) and their read marks on SQLite."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from hub.errors import Conflict, NotFound
from hub.timeline.model import Agent, AgentRole, ReadMark, new_id, utcnow
from hub.timeline.sqlite.base import Row, SQLiteBase, insert_sql, parse_ts, placeholders, req_ts, ts
from hub.timeline.store import AgentUpdate


def agent_record(row: Row) -> Agent:
    """A stored agent row as the model record."""
    return Agent(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        password_hash=row["password_hash"],
        role=AgentRole(row["role"]),
        disabled=bool(row["disabled"]),
        session_epoch=int(row["session_epoch"]),
        failed_sign_ins=int(row["failed_sign_ins"]),
        locked_until=parse_ts(row["locked_until"]),
        last_sign_in_at=parse_ts(row["last_sign_in_at"]),
        created_at=req_ts(row["created_at"]),
    )


def read_mark(row: Row) -> ReadMark:
    """A stored read mark row as the model record."""
    return ReadMark(
        agent_id=row["agent_id"],
        conversation_id=row["conversation_id"],
        seq=int(row["seq"]),
        at=req_ts(row["at"]),
    )


class AgentOps(SQLiteBase):
    """Agents (``email`` unique) and per-agent read marks."""

    async def create_agent(
        self, *, email: str, name: str, password_hash: str, role: AgentRole = AgentRole.AGENT
    ) -> Agent:
        row: Row = {
            "id": new_id("agt"),
            "email": email.strip().lower(),
            "name": name,
            "password_hash": password_hash,
            "role": AgentRole(role).value,
            "disabled": 0,
            "session_epoch": 0,
            "failed_sign_ins": 0,
            "locked_until": None,
            "last_sign_in_at": None,
            "created_at": ts(utcnow()),
        }
        try:
            async with self._write() as conn:
                await self._exec(conn, *insert_sql("agents", row))
        except sqlite3.IntegrityError:
            raise Conflict(f"an agent with email {row['email']} exists already") from None
        return agent_record(row)

    async def _agent_row(self, agent_id: str) -> Row:
        async with self._read() as conn:
            row = await self._one(conn, "SELECT * FROM agents WHERE id = ?", (agent_id,))
        if row is None:
            raise NotFound(f"no agent {agent_id!r}")
        return row

    async def get_agent(self, agent_id: str) -> Agent:
        return agent_record(await self._agent_row(agent_id))

    async def find_agent(self, email: str) -> Agent | None:
        async with self._read() as conn:
            row = await self._one(
                conn, "SELECT * FROM agents WHERE email = ?", (email.strip().lower(),)
            )
        return None if row is None else agent_record(row)

    async def list_agents(self) -> list[Agent]:
        async with self._read() as conn:
            rows = await self._all(conn, "SELECT * FROM agents ORDER BY created_at, rowid")
        return [agent_record(row) for row in rows]

    async def update_agent(self, agent_id: str, update: AgentUpdate) -> Agent:
        async with self._write() as conn:
            row = await self._one(conn, "SELECT * FROM agents WHERE id = ?", (agent_id,))
            if row is None:
                raise NotFound(f"no agent {agent_id!r}")
            if update.name is not None:
                row["name"] = update.name
            if update.role is not None:
                row["role"] = AgentRole(update.role).value
            if update.password_hash is not None:
                row["password_hash"] = update.password_hash
                row["session_epoch"] += 1
                row["failed_sign_ins"] = 0
                row["locked_until"] = None
            if update.end_sessions:
                row["session_epoch"] += 1
            if update.disabled is not None:
                if update.disabled and not row["disabled"]:
                    row["session_epoch"] += 1
                row["disabled"] = int(update.disabled)
            columns = ("name", "role", "password_hash", "session_epoch", "disabled")
            await self._exec(
                conn,
                "UPDATE agents SET name = ?, role = ?, password_hash = ?, session_epoch = ?, "
                "disabled = ?, failed_sign_ins = ?, locked_until = ? WHERE id = ?",
                [
                    *(row[c] for c in columns),
                    row["failed_sign_ins"],
                    row["locked_until"],
                    agent_id,
                ],
            )
        return agent_record(row)

    async def record_sign_in(
        self,
        agent_id: str,
        *,
        ok: bool,
        now: datetime,
        max_failures: int,
        lockout_seconds: float,
    ) -> Agent:
        async with self._write() as conn:
            row = await self._one(conn, "SELECT * FROM agents WHERE id = ?", (agent_id,))
            if row is None:
                raise NotFound(f"no agent {agent_id!r}")
            if ok:
                row.update(failed_sign_ins=0, locked_until=None, last_sign_in_at=ts(now))
            else:
                row["failed_sign_ins"] += 1
                if row["failed_sign_ins"] >= max_failures:
                    row["failed_sign_ins"] = 0
                    row["locked_until"] = ts(now + timedelta(seconds=lockout_seconds))
            await self._exec(
                conn,
                "UPDATE agents SET failed_sign_ins = ?, locked_until = ?, last_sign_in_at = ? "
                "WHERE id = ?",
                (row["failed_sign_ins"], row["locked_until"], row["last_sign_in_at"], agent_id),
            )
        return agent_record(row)

    async def mark_read(self, agent_id: str, conversation_id: str, seq: int) -> ReadMark:
        async with self._write() as conn:
            await self._exec(
                conn,
                "INSERT INTO read_marks (agent_id, conversation_id, seq, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (agent_id, conversation_id) DO UPDATE "
                "SET seq = excluded.seq, at = excluded.at WHERE excluded.seq > read_marks.seq",
                (agent_id, conversation_id, seq, ts(utcnow())),
            )
            row = await self._one(
                conn,
                "SELECT * FROM read_marks WHERE agent_id = ? AND conversation_id = ?",
                (agent_id, conversation_id),
            )
        assert row is not None
        return read_mark(row)

    async def read_marks(self, agent_id: str, conversation_ids: list[str]) -> dict[str, ReadMark]:
        if not conversation_ids:
            return {}
        async with self._read() as conn:
            rows = await self._all(
                conn,
                "SELECT * FROM read_marks WHERE agent_id = ? "  # noqa: S608
                f"AND conversation_id IN ({placeholders(len(conversation_ids))})",
                [agent_id, *conversation_ids],
            )
        return {row["conversation_id"]: read_mark(row) for row in rows}


def _unread(conn: sqlite3.Connection, after: dict[str, int], cap: int) -> dict[str, int]:
    if not after:
        return {}
    values = ", ".join("(?, ?)" for _ in after)
    params: list[object] = [x for pair in after.items() for x in pair]
    found = conn.execute(
        f"WITH m(cid, seq) AS (VALUES {values}) "  # noqa: S608
        "SELECT m.cid AS cid, (SELECT COUNT(*) FROM (SELECT 1 FROM events e "
        "WHERE e.conversation_id = m.cid AND e.seq > m.seq AND e.direction = 'in' LIMIT ?)) "
        "AS n FROM m",
        [*params, cap],
    ).fetchall()
    return {row["cid"]: int(row["n"]) for row in found}


class UnreadOps(SQLiteBase):
    """Unread counts for an inbox page, in one statement."""

    async def unread_counts(self, after: dict[str, int], *, cap: int = 99) -> dict[str, int]:
        return await self._query(_unread, dict(after), cap)
