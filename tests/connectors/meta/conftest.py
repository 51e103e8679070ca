"""A running hub with the Meta connector, wired to a Graph API double over loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import Hub, build_app
from hub.connectors.meta import MetaConnector
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Event, Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.buswatch import BusWatch
from tests.connectors.meta.kit import (
    APP_ID,
    APP_SECRET,
    IG_ID,
    IG_TOKEN,
    PAGE_ID,
    PAGE_TOKEN,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    VERSION,
    WA_TOKEN,
    GraphDouble,
    signature,
)
from tests.servers import serve

PUBLIC = "https://hub.example.com"


def meta_settings(graph_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "app_id": APP_ID,
        "graph_version": VERSION,
        "graph_url": graph_url,
        "instagram_graph_url": graph_url,
        "pages": {PAGE_ID: PAGE_TOKEN},
        "instagram": {IG_ID: IG_TOKEN},
        "whatsapp": {PHONE_NUMBER_ID: WA_TOKEN},
        "timeout_seconds": 5,
        **overrides,
    }


@dataclass
class MetaRig(BusWatch):
    client: httpx.AsyncClient
    api: httpx.AsyncClient
    graph: GraphDouble
    graph_url: str

    @property
    def connector(self) -> MetaConnector:
        connector = self.hub.connectors["meta"]
        assert isinstance(connector, MetaConnector)
        return connector

    async def post(
        self,
        payload: dict[str, Any] | bytes,
        *,
        secret: str = APP_SECRET,
        sign: str | None = None,
        sent: bytes | None = None,
    ) -> httpx.Response:
        """POST ``payload`` signed with ``secret`` (``sign`` overrides; ``sent`` tampers)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if sign != "":
            headers["X-Hub-Signature-256"] = sign or signature(body, secret)
        return await self.client.post(
            "/connectors/meta/webhook", content=sent or body, headers=headers
        )

    async def events(self, identity: Identity) -> list[Event]:
        customer = await self.hub.store.find_customer(identity)
        assert customer is not None, f"no customer {identity}"
        return (await self.hub.store.events(customer_id=customer.id, limit=200)).items

    async def reply(self, conversation_id: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/conversations/{conversation_id}/reply", json=body)


@pytest.fixture
def meta_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def meta(
    store: TimelineStore, tmp_path: Path, meta_overrides: dict[str, Any]
) -> AsyncIterator[MetaRig]:
    graph = GraphDouble()
    async with serve(graph.app()) as graph_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            public_url=PUBLIC,
            outbox=OutboxSettings(
                poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05, max_attempts=3
            ),
            connectors={"meta": meta_settings(graph_url, **meta_overrides)},
        )
        app = build_app(settings, store=store)
        hub: Hub = app.state.hub
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 200  # lifespan has run
            _, token = await issue_token(store, "tests")
            api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
            rig = MetaRig(hub, client, api, graph, graph_url)
            async with api, rig.watching():
                yield rig
