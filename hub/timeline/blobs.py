"""Attachment bytes: the ``BlobStore`` port and its filesystem default.

Blobs are content-addressed (``sha256-<hex>``): storing the same bytes twice
yields one blob, and a replayed webhook never duplicates an attachment.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from hub.errors import NotFound

__all__ = ["BlobStore", "FileBlobStore", "blob_id_for"]

_BLOB_ID = re.compile(r"sha256-[0-9a-f]{64}")


def blob_id_for(data: bytes) -> str:
    """The content address of ``data``."""
    return "sha256-" + hashlib.sha256(data).hexdigest()


class BlobStore(Protocol):
    """Where attachment bytes live. Ids are content addresses."""

    async def put(self, data: bytes) -> str:
        """Store ``data`` durably; return its id (idempotent)."""

    async def get(self, blob_id: str) -> bytes:
        """The bytes; NotFound if absent."""

    async def delete(self, blob_id: str) -> None:
        """Remove the blob if present."""


class FileBlobStore:
    """Blobs as files under one directory, fanned out by the first hash bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, blob_id: str) -> Path:
        if not _BLOB_ID.fullmatch(blob_id):
            raise NotFound(f"no blob {blob_id!r}")
        digest = blob_id.removeprefix("sha256-")
        return self.root / digest[:2] / digest

    async def put(self, data: bytes) -> str:
        blob_id = blob_id_for(data)
        await asyncio.to_thread(self._write, self._path(blob_id), data)
        return blob_id

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, blob_id: str) -> bytes:
        path = self._path(blob_id)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound(f"no blob {blob_id!r}") from None

    async def delete(self, blob_id: str) -> None:
        if not _BLOB_ID.fullmatch(blob_id):
            return
        await asyncio.to_thread(self._path(blob_id).unlink, missing_ok=True)
