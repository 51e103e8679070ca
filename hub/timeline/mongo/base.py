"""The connection, collections and small helpers the MongoDB mixins share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bson
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Doc = dict[str, Any]

DEFAULT_DATABASE = "omnihub"

_CODEC: CodecOptions[Doc] = CodecOptions(tz_aware=True)


def stored(doc: Doc) -> Doc:
    """``doc`` as it reads back from the server (times cut to milliseconds, UTC)."""
    return bson.decode(bson.encode(doc), codec_options=_CODEC)


def with_id(doc: Doc) -> Doc:
    """A stored document with ``_id`` renamed to ``id`` (what the codec expects)."""
    out = dict(doc)
    out["id"] = out.pop("_id")
    return out


def as_stored_id(doc: Doc) -> Doc:
    """A codec document with ``id`` renamed to ``_id``."""
    out = dict(doc)
    out["_id"] = out.pop("id")
    return out


def safe_key(key: str) -> bool:
    """Whether ``key`` can be addressed in an update path (``meta.<key>``)."""
    return bool(key) and "." not in key and not key.startswith("$") and "\x00" not in key


def merge_paths(prefix: str, values: dict[str, Any]) -> tuple[Doc, Doc]:
    """Split a shallow merge into ``$set`` paths and keys an update path cannot name."""
    paths: Doc = {}
    awkward: Doc = {}
    for key, value in values.items():
        if safe_key(key):
            paths[f"{prefix}.{key}"] = value
        else:
            awkward[key] = value
    return paths, awkward


class MongoBase:
    """Owns the client; the mixins reach collections through the properties."""

    def __init__(
        self,
        uri: str,
        database: str | None = None,
        *,
        event_listeners: Sequence[monitoring.CommandListener] = (),
        server_selection_timeout: float = 5.0,
    ) -> None:
        self.uri = uri
        self.server_selection_timeout = server_selection_timeout
        self.event_listeners = list(event_listeners)
        self._database_arg = database
        self.database_name = database or DEFAULT_DATABASE
        self._client: AsyncMongoClient[Doc] | None = None
        self._db: AsyncDatabase[Doc] | None = None

    @property
    def db(self) -> AsyncDatabase[Doc]:
        if self._db is None:
            raise RuntimeError("MongoStore is not open; call open() first")
        return self._db

    @property
    def customers(self) -> AsyncCollection[Doc]:
        return self.db["customers"]

    @property
    def identities(self) -> AsyncCollection[Doc]:
        return self.db["identities"]

    @property
    def conversations(self) -> AsyncCollection[Doc]:
        return self.db["conversations"]

    @property
    def event_docs(self) -> AsyncCollection[Doc]:
        return self.db["events"]

    @property
    def counters(self) -> AsyncCollection[Doc]:
        return self.db["counters"]

    @property
    def claims(self) -> AsyncCollection[Doc]:
        return self.db["claims"]

    @property
    def checkpoints(self) -> AsyncCollection[Doc]:
        return self.db["checkpoints"]

    @property
    def api_tokens(self) -> AsyncCollection[Doc]:
        return self.db["api_tokens"]

    def _connect(self) -> None:
        if self._client is not None:
            return
        options: dict[str, Any] = {}
        if "serverselectiontimeoutms" not in self.uri.lower():  # the URI's own wins
            options["serverSelectionTimeoutMS"] = int(self.server_selection_timeout * 1000)
        client: AsyncMongoClient[Doc] = AsyncMongoClient(
            self.uri, tz_aware=True, event_listeners=self.event_listeners, **options
        )
        if self._database_arg:
            db = client[self._database_arg]
        else:
            db = client.get_default_database(DEFAULT_DATABASE)
        self._client, self._db = client, db
        self.database_name = db.name

    async def _disconnect(self) -> None:
        client, self._client, self._db = self._client, None, None
        if client is not None:
            await client.close()

    async def _ping(self) -> None:
        if self._client is None:
            raise RuntimeError("MongoStore is not open")
        await self._client.admin.command("ping")
