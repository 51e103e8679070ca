"""Without operations, resolutions still reach the timeline, so reports see reopens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from hub.app import build_app
from hub.connectors.base import InboundMessage
from hub.metrics.service import collect, policies_for
from hub.operations import OperationsSettings
from hub.settings import Settings
from hub.timeline.model import Identity, utcnow
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.operations.kit import until
from tests.servers import serve


async def test_a_reopen_is_measured_with_operations_off(
    store: TimelineStore, tmp_path: Path
) -> None:
    settings = Settings(store=str(tmp_path / "unused.db"), blobs=str(tmp_path / "blobs"))
    app = build_app(settings, store=store)
    hub = app.state.hub
    assert hub.operations is None
    ana = Identity("email", "ana@example.com")
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        _, token = await issue_token(store, "lead")
        auth = {"authorization": f"Bearer {token}"}
        first = await hub.pipeline.ingest(
            InboundMessage(channel="email", external_id="m1", identity=ana, text="Broken")
        )
        conv = first.event.conversation_id
        for n in (1, 2):
            r = await client.patch(
                f"/api/v1/conversations/{conv}", json={"status": "resolved"}, headers=auth
            )
            assert r.status_code == 200, r.text

            async def recorded(n: int = n) -> bool:
                page = await store.events(conversation_id=conv, limit=50)
                found = [e for e in page.items if e.meta.get("operations") == "resolved"]
                return len(found) == n

            await until(recorded)
            if n == 1:
                await hub.pipeline.ingest(
                    InboundMessage(
                        channel="email",
                        external_id="m2",
                        identity=ana,
                        text="Still broken",
                        conversation_id=conv,
                    )
                )
        now = utcnow()
        policies = policies_for(OperationsSettings())
        [facts] = await collect(
            store, policies, since=now - timedelta(hours=1), until=now + timedelta(hours=1)
        )
        assert facts.reopened and facts.resolved and not facts.fcr
