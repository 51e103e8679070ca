"""Shared fixtures: every store-backed test runs on SQLite and on MongoDB.

The MongoDB run talks to a real wire-protocol server: the URI in
``OMNIHUB_TEST_MONGODB_URI``, or a FerretDB this session starts itself when the
``ferretdb`` binary is on PATH (see ``tests/ferretdb.py``). Without either,
MongoDB tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hub.timeline.store import TimelineStore
from tests.ferretdb import FerretDB, find_ferretdb

pytest_plugins = ["hub.testing"]  # the connector conformance kit

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_peer(reason: str) -> None:
    """Skip locally; under CI a missing real peer is a failure."""
    if IN_CI:
        pytest.fail(f"real peer required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    uri = os.environ.get("OMNIHUB_TEST_MONGODB_URI")
    if uri:
        yield uri
        return
    binary = find_ferretdb()
    if binary is None:
        missing_peer(
            "no MongoDB server: set OMNIHUB_TEST_MONGODB_URI or put ferretdb on PATH "
            "(.ci/run builds FerretDB v1.24.2)"
        )
    with FerretDB(binary, tmp_path_factory.mktemp("ferretdb")) as server:
        yield server.uri


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TimelineStore]:
    """A fresh, opened store of each kind."""
    s: TimelineStore
    if request.param == "sqlite":
        from hub.timeline.sqlite import SQLiteStore

        s = SQLiteStore(tmp_path / "hub.db")
        await s.open()
        yield s
        await s.close()
    else:
        from hub.timeline.mongo import MongoStore

        uri = request.getfixturevalue("mongo_uri")
        name = f"omnihub_test_{uuid.uuid4().hex[:12]}"
        m = MongoStore(uri, database=name)
        await m.open()
        yield m
        await m.drop_database()
        await m.close()
