"""Customers, identities, merge and unmerge on SQLite.

An identity is its own row (``key`` unique, ``n`` its link order) carrying the
customer it points at and the customer it was first linked to. Merge and
unmerge are sequences of plain updates, each safe to repeat; the source
customer carries a ``pending`` marker until the last one, and ``open()``
finishes any sequence a crash left behind.
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from hub.errors import Conflict, IdentityTaken
from hub.timeline.codec import identity_from_str
from hub.timeline.model import Customer, Identity, new_id, utcnow
from hub.timeline.sqlite.base import Row, SQLiteBase, dumps, insert_sql, req_ts, ts

PENDING_MERGE = "merge"
PENDING_UNMERGE = "unmerge"
_TABLES = ("identities", "conversations", "events")
_GROUP = """
    WITH RECURSIVE grp(id) AS (
        SELECT ?
        UNION
        SELECT customers.id FROM customers JOIN grp ON customers.merged_into = grp.id
    )
"""


class CustomerOps(SQLiteBase):
    """The customer half of the store."""

    async def _customer(self, conn: aiosqlite.Connection, row: Row) -> Customer:
        keys = await self._all(
            conn, "SELECT key FROM identities WHERE customer_id = ? ORDER BY n", (row["id"],)
        )
        return Customer(
            id=row["id"],
            name=row["name"],
            attributes=json.loads(row["attributes"]),
            identities=[identity_from_str(k["key"]) for k in keys],
            merged_into=row["merged_into"],
            created_at=req_ts(row["created_at"]),
            updated_at=req_ts(row["updated_at"]),
        )

    async def _survivor(self, conn: aiosqlite.Connection, customer_id: str) -> Customer | None:
        seen: set[str] = set()
        current = customer_id
        while current not in seen:
            seen.add(current)
            row = await self._one(conn, "SELECT * FROM customers WHERE id = ?", (current,))
            if row is None:
                return None
            if row["merged_into"] is None:
                return await self._customer(conn, row)
            current = row["merged_into"]
        raise Conflict(f"customer {customer_id} is in a merge cycle")

    async def _owner(self, conn: aiosqlite.Connection, identity: Identity) -> str | None:
        row = await self._one(
            conn, "SELECT customer_id FROM identities WHERE key = ?", (str(identity),)
        )
        return None if row is None else str(row["customer_id"])

    async def _insert_customer(
        self, conn: aiosqlite.Connection, name: str | None, attributes: dict[str, Any] | None
    ) -> Row:
        now = ts(utcnow())
        row: Row = {
            "id": new_id("cus"),
            "name": name,
            "attributes": dumps(dict(attributes or {})),
            "merged_into": None,
            "pending": None,
            "created_at": now,
            "updated_at": now,
        }
        await self._exec(conn, *insert_sql("customers", row))
        return row

    async def _insert_identity(
        self, conn: aiosqlite.Connection, customer_id: str, identity: Identity
    ) -> bool:
        """Link ``identity`` to ``customer_id`` unless it is linked already."""
        row: Row = {
            "key": str(identity),
            "customer_id": customer_id,
            "origin_customer_id": customer_id,
            "linked_at": ts(utcnow()),
        }
        sql, params = insert_sql("identities", row, conflict="ON CONFLICT (key) DO NOTHING")
        return await self._exec(conn, sql, params) == 1

    async def get_customer(self, customer_id: str) -> Customer:
        async with self._read() as conn:
            return await self._customer(conn, await self._customer_row(conn, customer_id))

    async def find_customer(self, identity: Identity) -> Customer | None:
        async with self._read() as conn:
            owner = await self._owner(conn, identity)
            return None if owner is None else await self._survivor(conn, owner)

    async def create_customer(
        self,
        *,
        name: str | None = None,
        identities: tuple[Identity, ...] = (),
        attributes: dict[str, Any] | None = None,
    ) -> Customer:
        async with self._write() as conn:
            row = await self._insert_customer(conn, name, attributes)
            for identity in dict.fromkeys(identities):
                if not await self._insert_identity(conn, row["id"], identity):
                    owner = await self._owner(conn, identity)
                    raise IdentityTaken(str(identity), owner or "?")
            return await self._customer(conn, row)

    async def get_or_create_customer(
        self, identity: Identity, *, name: str | None = None
    ) -> tuple[Customer, bool]:
        async with self._write() as conn:
            owner = await self._owner(conn, identity)
            if owner is None:
                row = await self._insert_customer(conn, name, None)
                if await self._insert_identity(conn, row["id"], identity):
                    return await self._customer(conn, row), True
                # Lost a race to another writer: drop ours, answer with theirs.
                await self._exec(conn, "DELETE FROM customers WHERE id = ?", (row["id"],))
                owner = await self._owner(conn, identity)
            survivor = None if owner is None else await self._survivor(conn, owner)
            if survivor is None:
                raise Conflict(f"{identity}: its owner vanished; try again")
            return survivor, False

    async def update_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Customer:
        async with self._write() as conn:
            row = await self._customer_row(conn, customer_id)
            if name is not None:
                row["name"] = name
            row["attributes"] = dumps({**json.loads(row["attributes"]), **(attributes or {})})
            row["updated_at"] = ts(utcnow())
            await self._exec(
                conn,
                "UPDATE customers SET name = ?, attributes = ?, updated_at = ? WHERE id = ?",
                (row["name"], row["attributes"], row["updated_at"], customer_id),
            )
            return await self._customer(conn, row)

    async def link_identity(self, customer_id: str, identity: Identity) -> Customer:
        async with self._write() as conn:
            row = await self._customer_row(conn, customer_id)
            if not await self._insert_identity(conn, customer_id, identity):
                owner = await self._owner(conn, identity)
                if owner != customer_id:
                    raise IdentityTaken(str(identity), owner or "?")
            return await self._customer(conn, row)

    # -- merge / unmerge -------------------------------------------------

    async def merge_customers(self, source_id: str, target_id: str) -> Customer:
        if source_id == target_id:
            raise Conflict("cannot merge a customer into itself")
        async with self._write() as conn:
            source = await self._customer_row(conn, source_id)
            target = await self._customer_row(conn, target_id)
            if target["merged_into"] is not None:
                raise Conflict(f"customer {target_id} is merged into {target['merged_into']}")
            if source["merged_into"] not in (None, target_id):
                raise Conflict(f"customer {source_id} is merged into {source['merged_into']}")
            if source["merged_into"] is None:
                await self._exec(
                    conn,
                    "UPDATE customers SET merged_into = ?, pending = ?, updated_at = ? "
                    "WHERE id = ? AND merged_into IS NULL",
                    (target_id, PENDING_MERGE, ts(utcnow()), source_id),
                )
            await self._finish_merge(conn, source_id, target_id)
            return await self._customer(conn, await self._customer_row(conn, target_id))

    async def _finish_merge(
        self, conn: aiosqlite.Connection, source_id: str, target_id: str
    ) -> None:
        for table in _TABLES:
            await self._exec(
                conn,
                f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?",  # noqa: S608
                (target_id, source_id),
            )
        await self._exec(
            conn,
            "UPDATE customers SET pending = NULL WHERE id = ? AND merged_into = ? AND pending = ?",
            (source_id, target_id, PENDING_MERGE),
        )
        await self._exec(
            conn, "UPDATE customers SET updated_at = ? WHERE id = ?", (ts(utcnow()), target_id)
        )

    async def unmerge_customer(self, source_id: str) -> Customer:
        async with self._write() as conn:
            source = await self._customer_row(conn, source_id)
            if source["merged_into"] is None:
                raise Conflict(f"customer {source_id} is not merged")
            await self._exec(
                conn, "UPDATE customers SET pending = ? WHERE id = ?", (PENDING_UNMERGE, source_id)
            )
            await self._finish_unmerge(conn, source_id)
            return await self._customer(conn, await self._customer_row(conn, source_id))

    async def _finish_unmerge(self, conn: aiosqlite.Connection, source_id: str) -> None:
        for table in _TABLES:
            await self._exec(
                conn,
                f"""{_GROUP}
                UPDATE {table} SET customer_id = ?
                WHERE origin_customer_id IN (SELECT id FROM grp) AND customer_id != ?
                """,  # noqa: S608
                (source_id, source_id, source_id),
            )
        await self._exec(
            conn,
            "UPDATE customers SET merged_into = NULL, pending = NULL, updated_at = ? "
            "WHERE id = ? AND pending = ?",
            (ts(utcnow()), source_id, PENDING_UNMERGE),
        )

    async def _resume_pending(self) -> None:
        """Finish merges and unmerges a crash left half-way."""
        async with self._write() as conn:
            pending = await self._all(
                conn, "SELECT id, merged_into, pending FROM customers WHERE pending IS NOT NULL"
            )
            for row in pending:
                if row["pending"] == PENDING_MERGE and row["merged_into"] is not None:
                    await self._finish_merge(conn, row["id"], row["merged_into"])
                elif row["pending"] == PENDING_UNMERGE:
                    await self._finish_unmerge(conn, row["id"])
