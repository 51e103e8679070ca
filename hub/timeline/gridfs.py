"""Attachment bytes in MongoDB GridFS: a ``BlobStore`` for multi-instance hubs.

The file's GridFS ``_id`` is its content address (``sha256-<hex>``), so a put
of bytes already stored is a single lookup and concurrent puts of the same
bytes leave one file. The filesystem store (:class:`~hub.timeline.blobs.FileBlobStore`)
stays the default; this one suits hubs that share a MongoDB but no disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TYPE_CHECKING, Any

from gridfs import AsyncGridFSBucket
from gridfs.errors import FileExists, NoFile
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from hub.errors import NotFound
from hub.timeline.blobs import blob_id_for

if TYPE_CHECKING:
    from hub.timeline.mongo import MongoStore

__all__ = ["GridFSBlobStore"]

_BLOB_ID = re.compile(r"sha256-[0-9a-f]{64}")
_SETTLE_CHECKS = 20
_SETTLE_DELAY = 0.05


class GridFSBlobStore:
    """Blobs as GridFS files under the bucket ``bucket``.

    ``source`` is a :class:`~hub.timeline.mongo.MongoStore` (its database is
    looked up at first use, so the store may still be unopened here) or a
    PyMongo async database.
    """

    def __init__(self, source: MongoStore | AsyncDatabase[Any], *, bucket: str = "blobs") -> None:
        self.source = source
        self.bucket_name = bucket
        self._indexed = False

    @property
    def database(self) -> AsyncDatabase[Any]:
        if isinstance(self.source, AsyncDatabase):
            return self.source
        return self.source.db

    @property
    def _bucket(self) -> AsyncGridFSBucket:
        return AsyncGridFSBucket(self.database, bucket_name=self.bucket_name)

    @property
    def _files(self) -> AsyncCollection[Any]:
        return self.database[f"{self.bucket_name}.files"]

    @property
    def _chunks(self) -> AsyncCollection[Any]:
        return self.database[f"{self.bucket_name}.chunks"]

    async def _ensure_indexes(self) -> None:
        # PyMongo creates these only when the collections are empty; chunks left
        # by a dead upload would then leave ``(files_id, n)`` without its unique
        # index. Same specs as PyMongo's, one command each (FerretDB v1).
        if self._indexed:
            return
        await self._files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
        await self._chunks.create_index([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)
        self._indexed = True

    async def _exists(self, blob_id: str) -> bool:
        return await self._files.find_one({"_id": blob_id}, {"_id": 1}) is not None

    async def put(self, data: bytes) -> str:
        """Store ``data`` unless it is there already; return its content address."""
        blob_id = blob_id_for(data)
        if await self._exists(blob_id):
            return blob_id
        await self._ensure_indexes()
        try:
            await self._bucket.upload_from_stream_with_id(blob_id, blob_id, data)
        except FileExists:
            await self._settle(blob_id, data)
        return blob_id

    async def _settle(self, blob_id: str, data: bytes) -> None:
        """Chunks exist but maybe no file yet: another writer is mid-upload, or one
        died mid-upload. Wait for the file; if it never comes, replace the orphans."""
        for _ in range(_SETTLE_CHECKS):
            if await self._exists(blob_id):
                return
            await asyncio.sleep(_SETTLE_DELAY)
        await self._chunks.delete_many({"files_id": blob_id})
        try:
            await self._bucket.upload_from_stream_with_id(blob_id, blob_id, data)
        except FileExists:
            if not await self._exists(blob_id):
                raise

    async def get(self, blob_id: str) -> bytes:
        """The bytes; NotFound if absent."""
        if not _BLOB_ID.fullmatch(blob_id):
            raise NotFound(f"no blob {blob_id!r}")
        try:
            stream = await self._bucket.open_download_stream(blob_id)
        except NoFile:
            raise NotFound(f"no blob {blob_id!r}") from None
        data: bytes = await stream.read()
        return data

    async def delete(self, blob_id: str) -> None:
        """Remove the blob if present."""
        if not _BLOB_ID.fullmatch(blob_id):
            return
        with contextlib.suppress(NoFile):
            await self._bucket.delete(blob_id)
