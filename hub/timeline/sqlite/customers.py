"""Customers, identities, merge and unmerge on SQLite.

An identity is its own row (``key`` unique, ``n`` its link order) carrying the
customer it points at and the customer it was first linked to. Merge and
unmerge run in one transaction each; the source customer carries a ``pending``
marker while one runs, and ``open()`` finishes any a crash left behind (a
database written by an older release may hold one).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hub.errors import Conflict, IdentityTaken, NotFound
from hub.timeline.codec import identity_from_str
from hub.timeline.model import Customer, Identity, new_id, utcnow
from hub.timeline.sqlite.base import Row, SQLiteBase, dumps, insert_sql, req_ts, ts
from hub.timeline.sqlite.engine import one, rows, run

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


def customer_row(conn: sqlite3.Connection, customer_id: str) -> Row:
    row = one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
    if row is None:
        raise NotFound(f"no customer {customer_id!r}")
    return row


def customer_record(conn: sqlite3.Connection, row: Row) -> Customer:
    """A stored customer row with its identities, in link order."""
    keys = rows(conn, "SELECT key FROM identities WHERE customer_id = ? ORDER BY n", (row["id"],))
    return Customer(
        id=row["id"],
        name=row["name"],
        attributes=json.loads(row["attributes"]),
        identities=[identity_from_str(k["key"]) for k in keys],
        merged_into=row["merged_into"],
        created_at=req_ts(row["created_at"]),
        updated_at=req_ts(row["updated_at"]),
    )


def survivor_row(conn: sqlite3.Connection, customer_id: str) -> Row | None:
    """The row of the customer ``customer_id`` is now (following ``merged_into``)."""
    seen: set[str] = set()
    current = customer_id
    while current not in seen:
        seen.add(current)
        row = one(conn, "SELECT * FROM customers WHERE id = ?", (current,))
        if row is None:
            return None
        if row["merged_into"] is None:
            return row
        current = row["merged_into"]
    raise Conflict(f"customer {customer_id} is in a merge cycle")


def owner_of(conn: sqlite3.Connection, identity: Identity) -> str | None:
    row = one(conn, "SELECT customer_id FROM identities WHERE key = ?", (str(identity),))
    return None if row is None else str(row["customer_id"])


def insert_customer(
    conn: sqlite3.Connection,
    name: str | None,
    attributes: dict[str, Any] | None,
    *,
    customer_id: str | None = None,
) -> Row:
    now = ts(utcnow())
    row: Row = {
        "id": customer_id or new_id("cus"),
        "name": name,
        "attributes": dumps(dict(attributes or {})),
        "merged_into": None,
        "pending": None,
        "created_at": now,
        "updated_at": now,
    }
    run(conn, *insert_sql("customers", row))
    return row


def insert_identity(conn: sqlite3.Connection, customer_id: str, identity: Identity) -> bool:
    """Link ``identity`` to ``customer_id`` unless it is linked already (to anyone)."""
    row: Row = {
        "key": str(identity),
        "customer_id": customer_id,
        "origin_customer_id": customer_id,
        "linked_at": ts(utcnow()),
    }
    sql, params = insert_sql("identities", row, conflict="ON CONFLICT (key) DO NOTHING")
    return run(conn, sql, params) == 1


def attach(conn: sqlite3.Connection, customer_id: str, identity: Identity) -> None:
    """Link ``identity``; no-op if it is this customer's, IdentityTaken if another's."""
    if not insert_identity(conn, customer_id, identity):
        owner = owner_of(conn, identity)
        if owner != customer_id:
            raise IdentityTaken(str(identity), owner or "?")


def finish_merge(conn: sqlite3.Connection, source_id: str, target_id: str) -> None:
    for table in _TABLES:
        run(
            conn,
            f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?",  # noqa: S608
            (target_id, source_id),
        )
    run(
        conn,
        "UPDATE customers SET pending = NULL WHERE id = ? AND merged_into = ? AND pending = ?",
        (source_id, target_id, PENDING_MERGE),
    )
    run(conn, "UPDATE customers SET updated_at = ? WHERE id = ?", (ts(utcnow()), target_id))


def finish_unmerge(conn: sqlite3.Connection, source_id: str) -> None:
    for table in _TABLES:
        run(
            conn,
            f"""{_GROUP}
            UPDATE {table} SET customer_id = ?
            WHERE origin_customer_id IN (SELECT id FROM grp) AND customer_id != ?
            """,  # noqa: S608
            (source_id, source_id, source_id),
        )
    run(
        conn,
        "UPDATE customers SET merged_into = NULL, pending = NULL, updated_at = ? "
        "WHERE id = ? AND pending = ?",
        (ts(utcnow()), source_id, PENDING_UNMERGE),
    )


def _merge(conn: sqlite3.Connection, source_id: str, target_id: str) -> Customer:
    source = customer_row(conn, source_id)
    target = customer_row(conn, target_id)
    if target["merged_into"] is not None:
        raise Conflict(f"customer {target_id} is merged into {target['merged_into']}")
    if source["merged_into"] not in (None, target_id):
        raise Conflict(f"customer {source_id} is merged into {source['merged_into']}")
    if source["merged_into"] is None:
        run(
            conn,
            "UPDATE customers SET merged_into = ?, pending = ?, updated_at = ? "
            "WHERE id = ? AND merged_into IS NULL",
            (target_id, PENDING_MERGE, ts(utcnow()), source_id),
        )
    finish_merge(conn, source_id, target_id)
    return customer_record(conn, customer_row(conn, target_id))


def _unmerge(conn: sqlite3.Connection, source_id: str) -> Customer:
    source = customer_row(conn, source_id)
    if source["merged_into"] is None:
        raise Conflict(f"customer {source_id} is not merged")
    run(conn, "UPDATE customers SET pending = ? WHERE id = ?", (PENDING_UNMERGE, source_id))
    finish_unmerge(conn, source_id)
    return customer_record(conn, customer_row(conn, source_id))


def _resume(conn: sqlite3.Connection) -> None:
    pending = rows(conn, "SELECT id, merged_into, pending FROM customers WHERE pending IS NOT NULL")
    for row in pending:
        if row["pending"] == PENDING_MERGE and row["merged_into"] is not None:
            finish_merge(conn, row["id"], row["merged_into"])
        elif row["pending"] == PENDING_UNMERGE:
            finish_unmerge(conn, row["id"])


class CustomerOps(SQLiteBase):
    """The customer half of the store."""

    async def get_customer(self, customer_id: str) -> Customer:
        def read(conn: sqlite3.Connection) -> Customer:
            return customer_record(conn, customer_row(conn, customer_id))

        return await self._query(read)

    async def get_customers(self, customer_ids: list[str]) -> dict[str, Customer]:
        ids = list(dict.fromkeys(customer_ids))

        def read(conn: sqlite3.Connection) -> dict[str, Customer]:
            if not ids:
                return {}
            marks = ", ".join("?" for _ in ids)
            found = rows(conn, f"SELECT * FROM customers WHERE id IN ({marks})", ids)  # noqa: S608
            keys = rows(
                conn,
                f"SELECT customer_id, key FROM identities WHERE customer_id IN ({marks}) "  # noqa: S608
                "ORDER BY n",
                ids,
            )
            held: dict[str, list[Identity]] = {}
            for k in keys:
                held.setdefault(k["customer_id"], []).append(identity_from_str(k["key"]))
            return {
                row["id"]: Customer(
                    id=row["id"],
                    name=row["name"],
                    attributes=json.loads(row["attributes"]),
                    identities=held.get(row["id"], []),
                    merged_into=row["merged_into"],
                    created_at=req_ts(row["created_at"]),
                    updated_at=req_ts(row["updated_at"]),
                )
                for row in found
            }

        return await self._query(read)

    async def find_customer(self, identity: Identity) -> Customer | None:
        def read(conn: sqlite3.Connection) -> Customer | None:
            owner = owner_of(conn, identity)
            row = None if owner is None else survivor_row(conn, owner)
            return None if row is None else customer_record(conn, row)

        return await self._query(read)

    async def create_customer(
        self,
        *,
        name: str | None = None,
        identities: tuple[Identity, ...] = (),
        attributes: dict[str, Any] | None = None,
    ) -> Customer:
        def write(conn: sqlite3.Connection) -> Customer:
            row = insert_customer(conn, name, attributes)
            for identity in dict.fromkeys(identities):
                if not insert_identity(conn, row["id"], identity):
                    raise IdentityTaken(str(identity), owner_of(conn, identity) or "?")
            return customer_record(conn, row)

        return await self._unit(write)

    async def get_or_create_customer(
        self, identity: Identity, *, name: str | None = None
    ) -> tuple[Customer, bool]:
        def write(conn: sqlite3.Connection) -> tuple[Customer, bool]:
            owner = owner_of(conn, identity)
            if owner is None:
                row = insert_customer(conn, name, None)
                insert_identity(conn, row["id"], identity)
                return customer_record(conn, row), True
            found = survivor_row(conn, owner)
            if found is None:
                raise Conflict(f"{identity}: its owner vanished; try again")
            return customer_record(conn, found), False

        return await self._unit(write)

    async def update_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Customer:
        def write(conn: sqlite3.Connection) -> Customer:
            row = customer_row(conn, customer_id)
            if name is not None:
                row["name"] = name
            row["attributes"] = dumps({**json.loads(row["attributes"]), **(attributes or {})})
            row["updated_at"] = ts(utcnow())
            run(
                conn,
                "UPDATE customers SET name = ?, attributes = ?, updated_at = ? WHERE id = ?",
                (row["name"], row["attributes"], row["updated_at"], customer_id),
            )
            return customer_record(conn, row)

        return await self._unit(write)

    async def link_identity(self, customer_id: str, identity: Identity) -> Customer:
        def write(conn: sqlite3.Connection) -> Customer:
            row = customer_row(conn, customer_id)
            attach(conn, customer_id, identity)
            return customer_record(conn, row)

        return await self._unit(write)

    async def merge_customers(self, source_id: str, target_id: str) -> Customer:
        if source_id == target_id:
            raise Conflict("cannot merge a customer into itself")
        return await self._unit(_merge, source_id, target_id)

    async def unmerge_customer(self, source_id: str) -> Customer:
        return await self._unit(_unmerge, source_id)

    async def _resume_pending(self) -> None:
        """Finish merges and unmerges a crash left half-way."""
        await self._unit(_resume)
