"""Connector checkpoints and API tokens on SQLite."""

from __future__ import annotations

import json
from typing import Any

from hub.errors import NotFound
from hub.timeline.model import ApiToken, new_id, utcnow
from hub.timeline.sqlite.base import Row, SQLiteBase, dumps, insert_sql, parse_ts, req_ts, ts
from hub.timeline.sqlite.engine import one, run


def api_token(row: Row) -> ApiToken:
    """A stored token row as the model record."""
    return ApiToken(
        id=row["id"],
        name=row["name"],
        token_hash=row["token_hash"],
        created_at=req_ts(row["created_at"]),
        revoked_at=parse_ts(row["revoked_at"]),
    )


class RecordOps(SQLiteBase):
    """Checkpoints (one row per connector and key) and API tokens."""

    async def get_checkpoint(self, connector: str, key: str) -> dict[str, Any] | None:
        row = await self._query(
            one, "SELECT value FROM checkpoints WHERE connector = ? AND key = ?", (connector, key)
        )
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row["value"])
        return value

    async def set_checkpoint(self, connector: str, key: str, value: dict[str, Any]) -> None:
        await self._unit(
            run,
            "INSERT INTO checkpoints (connector, key, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (connector, key) DO UPDATE "
            "SET value = excluded.value, updated_at = excluded.updated_at",
            (connector, key, dumps(value), ts(utcnow())),
        )

    async def create_api_token(self, name: str, token_hash: str) -> ApiToken:
        row: Row = {
            "id": new_id("tok"),
            "name": name,
            "token_hash": token_hash,
            "created_at": ts(utcnow()),
            "revoked_at": None,
        }
        async with self._write() as conn:
            await self._exec(conn, *insert_sql("api_tokens", row))
        return api_token(row)

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        row = await self._query(
            one,
            "SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (token_hash,),
        )
        return None if row is None else api_token(row)

    async def list_api_tokens(self) -> list[ApiToken]:
        async with self._read() as conn:
            rows = await self._all(conn, "SELECT * FROM api_tokens ORDER BY created_at, rowid")
        return [api_token(row) for row in rows]

    async def revoke_api_token(self, token_id: str) -> None:
        async with self._write() as conn:
            if await self._one(conn, "SELECT 1 FROM api_tokens WHERE id = ?", (token_id,)) is None:
                raise NotFound(f"no API token {token_id!r}")
            await self._exec(
                conn,
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (ts(utcnow()), token_id),
            )
