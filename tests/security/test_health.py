"""``/healthz`` tells a stranger only ok / not ok; the details need a token."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.app import build_app
from hub.settings import Settings
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.servers import serve

HEALTH_TOKEN = "health-probe-token-0123456789"


async def test_strangers_learn_only_whether_the_hub_is_ok(
    store: TimelineStore, tmp_path: Path
) -> None:
    settings = Settings(
        store=str(tmp_path / "secret-path" / "omnihub.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key="health-tests-secret-key-0123456789",
        connectors={"api": {"secret": "api-secret-0123456789"}},
        security={"health_token": HEALTH_TOKEN},
    )
    app = build_app(settings, store=store)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": "Basic eA=="}):
            r = await client.get("/healthz", headers=headers)
            assert r.status_code == 200 and r.json() == {"ok": True}
            assert "api" not in r.text and "secret-path" not in r.text

        _, api_token = await issue_token(store, "ops")
        for token in (HEALTH_TOKEN, api_token):
            r = await client.get("/healthz", headers={"Authorization": f"Bearer {token}"})
            body = r.json()
            assert body["ok"] and body["connectors"] == ["api", "chat"] and "store" in body
