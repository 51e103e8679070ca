"""A chat rig over Starlette's TestClient: the hub on a real store, websockets in-process.

The store is handed to ``build_app`` unopened: the app's lifespan opens it in
the TestClient's event loop. ``call`` runs a coroutine there (store reads,
bus publishes) so tests can look behind the widget.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; httpx (a hub dependency) still works.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient, WebSocketTestSession

from hub.app import Hub, build_app
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Event, Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token

T = TypeVar("T")
ORIGIN = "http://testserver"
SECRET = "site-identity-secret-0123456789"


@dataclass
class Chat:
    """The hub with the chat connector, and helpers to drive and inspect it."""

    client: TestClient
    hub: Hub
    api_token: str

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` (sync or async) in the app's event loop."""
        assert self.client.portal is not None
        return self.client.portal.call(lambda: fn(*args, **kwargs))

    @contextmanager
    def connect(
        self, *, site: str = "default", origin: str | None = ORIGIN
    ) -> Iterator[WebSocketTestSession]:
        headers = {"origin": origin} if origin else {}
        with self.client.websocket_connect(
            f"/connectors/chat/ws?site={site}", headers=headers
        ) as ws:
            yield ws

    def hello(
        self, ws: WebSocketTestSession, token: str | None = None, cursor: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Send hello; returns (welcome, events) frames."""
        ws.send_json({"type": "hello", "token": token, "cursor": cursor})
        welcome = ws.receive_json()
        assert welcome["type"] == "welcome", welcome
        events = ws.receive_json()
        assert events["type"] == "events", events
        return welcome, events

    def reply(self, conversation_id: str, text: str) -> dict[str, Any]:
        """An agent reply through the JSON API."""
        response = self.client.post(
            f"/api/v1/conversations/{conversation_id}/reply",
            json={"text": text, "channel": "chat"},
            headers={"Authorization": f"Bearer {self.api_token}"},
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def timeline(self, visitor: str) -> list[Event]:
        async def read() -> list[Event]:
            customer = await self.hub.store.find_customer(Identity("chat", visitor))
            if customer is None:
                return []
            return (await self.hub.store.events(customer_id=customer.id, limit=500)).items

        result: list[Event] = self.call(read)
        return result


def make_store(kind: str, tmp_path: Path, mongo_uri: str | None) -> tuple[TimelineStore, str]:
    """An unopened store of ``kind`` (and the MongoDB database name, if any)."""
    if kind == "sqlite":
        from hub.timeline.sqlite import SQLiteStore

        return SQLiteStore(tmp_path / "hub.db"), ""
    from hub.timeline.mongo import MongoStore

    assert mongo_uri is not None
    name = f"omnihub_chat_{uuid.uuid4().hex[:12]}"
    return MongoStore(mongo_uri, database=name), name


@contextmanager
def running(store: TimelineStore, tmp_path: Path, chat: dict[str, Any]) -> Iterator[Chat]:
    """The hub serving ``chat`` settings on ``store`` inside a TestClient."""
    settings = Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key_file=str(tmp_path / "secret"),
        public_url=ORIGIN,
        outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
        connectors={"chat": chat},
    )
    app = build_app(settings, store=store)
    with TestClient(app) as client:
        rig = Chat(client, app.state.hub, "")
        _, rig.api_token = rig.call(issue_token, store, "tests")
        yield rig
