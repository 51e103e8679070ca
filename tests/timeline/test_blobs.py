"""FileBlobStore: content-addressed attachment bytes on the filesystem."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from hub.errors import NotFound
from hub.timeline.blobs import BlobStore, FileBlobStore, blob_id_for


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_put_get_roundtrip(tmp_path: Path) -> None:
    store: BlobStore = FileBlobStore(tmp_path)
    blob_id = await store.put(b"hello")
    assert blob_id == blob_id_for(b"hello")
    assert blob_id == "sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert await store.get(blob_id) == b"hello"
    assert await store.get(await store.put(b"")) == b""


async def test_put_is_idempotent(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    first = await store.put(b"same bytes")
    second = await store.put(b"same bytes")
    assert first == second
    other = await store.put(b"other bytes")
    assert other != first
    assert len(files(tmp_path)) == 2


async def test_concurrent_puts_keep_one_file(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    data = b"x" * 300_000
    ids = await asyncio.gather(*(store.put(data) for _ in range(5)))
    assert set(ids) == {blob_id_for(data)}
    assert len(files(tmp_path)) == 1
    assert await store.get(ids[0]) == data


async def test_missing_blob_is_not_found(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    with pytest.raises(NotFound):
        await store.get(blob_id_for(b"never stored"))


@pytest.mark.parametrize(
    "blob_id",
    [
        "../../etc/passwd",
        "sha256-../../../etc/passwd",
        "sha256-" + "A" * 64,
        "sha256-" + "a" * 63,
        "sha256-" + "a" * 64 + "/../x",
        "/etc/passwd",
        "",
    ],
)
async def test_ids_that_are_not_content_addresses_are_refused(tmp_path: Path, blob_id: str) -> None:
    root = tmp_path / "blobs"
    outside = tmp_path / "secret"
    outside.write_bytes(b"do not touch")
    store = FileBlobStore(root)
    with pytest.raises(NotFound):
        await store.get(blob_id)
    with contextlib.suppress(NotFound):  # refused either way; nothing is removed
        await store.delete(blob_id)
    assert outside.read_bytes() == b"do not touch"
    assert not root.exists() or files(root) == []


async def test_delete(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    blob_id = await store.put(b"bye")
    await store.delete(blob_id)
    with pytest.raises(NotFound):
        await store.get(blob_id)
    await store.delete(blob_id)  # absent: no error
    assert await store.put(b"bye") == blob_id
    assert await store.get(blob_id) == b"bye"
