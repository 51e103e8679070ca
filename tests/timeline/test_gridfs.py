"""GridFSBlobStore against a real MongoDB wire-protocol server (see ``mongo_uri``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from hub.errors import NotFound
from hub.timeline.blobs import BlobStore, blob_id_for
from hub.timeline.gridfs import GridFSBlobStore

pytestmark = pytest.mark.mongo


@pytest.fixture
async def blobs(mongo_uri: str) -> AsyncIterator[GridFSBlobStore]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    name = f"omnihub_test_{uuid.uuid4().hex[:12]}"
    try:
        yield GridFSBlobStore(client[name])
    finally:
        await client.drop_database(name)
        await client.close()


async def test_put_get_roundtrip(blobs: GridFSBlobStore) -> None:
    store: BlobStore = blobs  # satisfies the port
    blob_id = await store.put(b"hello")
    assert blob_id == blob_id_for(b"hello")
    assert blob_id.startswith("sha256-")
    assert await store.get(blob_id) == b"hello"


async def test_empty_blob(blobs: GridFSBlobStore) -> None:
    blob_id = await blobs.put(b"")
    assert await blobs.get(blob_id) == b""


async def test_large_blob_spans_chunks(blobs: GridFSBlobStore) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: five chunks of 255 KiB
    blob_id = await blobs.put(data)
    assert await blobs.get(blob_id) == data
    assert await blobs._chunks.count_documents({"files_id": blob_id}) == 5


async def test_put_is_idempotent(blobs: GridFSBlobStore) -> None:
    first = await blobs.put(b"same bytes")
    second = await blobs.put(b"same bytes")
    assert first == second
    assert await blobs._files.count_documents({}) == 1


async def test_concurrent_puts_store_one_file(blobs: GridFSBlobStore) -> None:
    data = b"x" * 600_000
    ids = await asyncio.gather(*(blobs.put(data) for _ in range(6)))
    assert set(ids) == {blob_id_for(data)}
    assert await blobs._files.count_documents({}) == 1
    assert await blobs.get(ids[0]) == data


async def test_missing_and_malformed_ids_are_not_found(blobs: GridFSBlobStore) -> None:
    with pytest.raises(NotFound):
        await blobs.get(blob_id_for(b"never stored"))
    with pytest.raises(NotFound):
        await blobs.get("../../etc/passwd")


async def test_delete(blobs: GridFSBlobStore) -> None:
    blob_id = await blobs.put(b"bye")
    await blobs.delete(blob_id)
    with pytest.raises(NotFound):
        await blobs.get(blob_id)
    await blobs.delete(blob_id)  # absent: no error
    await blobs.delete("not-a-blob-id")
    assert await blobs.put(b"bye") == blob_id
    assert await blobs.get(blob_id) == b"bye"


async def test_orphan_chunks_from_a_dead_upload_are_replaced(blobs: GridFSBlobStore) -> None:
    data = b"interrupted"
    blob_id = blob_id_for(data)
    await blobs._chunks.insert_one({"files_id": blob_id, "n": 0, "data": b"interr"})
    assert await blobs.put(data) == blob_id
    assert await blobs.get(blob_id) == data


async def test_built_from_an_unopened_mongo_store(mongo_uri: str) -> None:
    from hub.timeline.mongo import MongoStore

    store = MongoStore(mongo_uri, database=f"omnihub_test_{uuid.uuid4().hex[:12]}")
    blobs = GridFSBlobStore(store)  # what hub.app does, before the lifespan opens the store
    await store.open()
    try:
        blob_id = await blobs.put(b"via the store")
        assert await blobs.get(blob_id) == b"via the store"
    finally:
        await store.drop_database()
        await store.close()
