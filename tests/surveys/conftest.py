"""A hub with surveys on, email to a real SMTP server (aiosmtpd), SMS through the Twilio
REST double, and helpers to run a conversation to its resolution."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import Hub, build_app
from hub.connectors.base import InboundMessage
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Event, Identity, new_id
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.connectors.email.conftest import SmtpSink, smtp_sink
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import PUBLIC, RestDouble, TwilioSide
from tests.servers import serve

__all__ = ["SurveyHub", "smtp_sink", "survey_hub"]

EMAIL = {
    "secret": "email-reply-secret-0123456789",
    "accounts": [
        {"name": "support", "address": "support@example.org", "display_name": "Acme Support"}
    ],
}


@dataclass
class SurveyHub:
    hub: Hub
    client: httpx.AsyncClient
    api: httpx.AsyncClient
    twilio: TwilioSide
    rest: RestDouble
    smtp: SmtpSink

    def local(self, url: str) -> str:
        """A link as the customer gets it, sent to the hub served here."""
        assert url.startswith(PUBLIC), url
        return url.removeprefix(PUBLIC)

    async def conversation(
        self, identity: Identity, channel: str, text: str, *, account: str = "support"
    ) -> str:
        """The customer writes (to the ``support`` account), an agent answers; the id."""
        result = await self.hub.pipeline.ingest(
            InboundMessage(
                channel=channel,
                external_id=new_id("m"),
                identity=identity,
                text=text,
                meta={"account": account},
            )
        )
        conv = result.event.conversation_id
        assert conv is not None
        await self.hub.pipeline.send(conv, text="Here is what I am doing about it.", author="Sam")
        return conv

    async def resolve(self, conv: str) -> None:
        r = await self.api.patch(f"/api/v1/conversations/{conv}", json={"status": "resolved"})
        assert r.status_code == 200, r.text

    async def events(self, conv: str) -> list[Event]:
        return (await self.hub.store.events(conversation_id=conv, limit=200)).items

    async def answers(self, conv: str) -> list[dict[str, Any]]:
        return [e.meta["survey"] for e in await self.events(conv) if "survey" in e.meta]


@pytest.fixture
async def survey_hub(
    store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink
) -> AsyncIterator[SurveyHub]:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            public_url=PUBLIC,
            secret_key="survey-tests-secret-key-0123456789",
            outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
            surveys={"enabled": True, "ces_channels": ["email:support"], "check_seconds": 3600},
            handoff={"business_name": "Acme"},
            connectors={
                "twilio": twilio_settings(rest_url),
                "email": {
                    **EMAIL,
                    "accounts": [{**EMAIL["accounts"][0], **smtp_sink.account()}],
                },
            },
        )
        app = build_app(settings, store=store)
        hub: Hub = app.state.hub
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            _, token = await issue_token(store, "tests")
            api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
            async with api:
                yield SurveyHub(hub, client, api, TwilioSide(url, client), rest, smtp_sink)
