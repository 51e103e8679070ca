"""Fixtures for the chat connector's protocol tests (SQLite and MongoDB)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.chat.kit import SECRET, Chat, make_store, running

DEFAULT_CHAT: dict[str, Any] = {
    "sites": {
        "default": {"origins": ["http://testserver"], "identity_secret": SECRET},
        "shop": {"origins": ["https://shop.example.com"]},
    },
    "availability": "online",
}


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def chat_settings() -> dict[str, Any]:
    """Override in a test module to change ``[connectors.chat]``."""
    return DEFAULT_CHAT


@pytest.fixture
def chat(
    store_kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    chat_settings: dict[str, Any],
) -> Iterator[Chat]:
    uri = request.getfixturevalue("mongo_uri") if store_kind == "mongo" else None
    store, database = make_store(store_kind, tmp_path, uri)
    with running(store, tmp_path, chat_settings) as rig:
        yield rig
    if database:
        from pymongo import MongoClient

        with MongoClient(uri) as client:
            client.drop_database(database)
