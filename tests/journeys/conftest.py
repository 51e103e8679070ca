"""Cross-channel journeys: one hub with chat, Twilio (SMS and voice) and email.

Customers use the real protocols: the widget's websocket, signed Twilio webhooks,
a real Dovecot mailbox and SMTP receiver; agents use the HTTP API. Twilio's REST
API is the only double (tests/connectors/twilio_kit). Every journey runs on both
stores (the ``store`` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.agent.auth import create_agent
from hub.connectors.email import EmailConnector
from hub.timeline.model import AgentRole, Identity
from hub.timeline.store import TimelineStore
from tests.agent.kit import PASSWORD, Agentside
from tests.browser.conftest import browser, context, page, page_errors
from tests.connectors.email.conftest import Mailbox, SmtpSink
from tests.connectors.email.rig import SECRET
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import RestDouble
from tests.handoff.conftest import (
    PUBLIC,
    HubRig,
    Widget,
    dovecot,
    mailbox,
    running_hub,
    smtp_sink,
    widget,
)
from tests.servers import serve

__all__ = [
    "LINK",
    "Site",
    "browser",
    "context",
    "dovecot",
    "mailbox",
    "page",
    "page_errors",
    "smtp_sink",
]

CHAT = {"sites": {"default": {"origins": ["*"]}}, "availability": "online"}
LINK = re.compile(re.escape(PUBLIC) + r"/c/[A-Za-z0-9_.\-]+")


@dataclass
class Site:
    """The running hub, Twilio's REST double, the mail servers."""

    rig: HubRig
    rest: RestDouble
    smtp: SmtpSink
    mailbox: Mailbox

    async def conversations(self) -> list[dict[str, Any]]:
        r = await self.rig.api.get("/api/v1/conversations", params={"status": "any"})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def events(self, conversation_id: str) -> list[dict[str, Any]]:
        r = await self.rig.api.get(f"/api/v1/conversations/{conversation_id}/events")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def ask(self, action: str, to: str, token: str) -> Any:
        """The widget's "text me" / "email me this conversation" / "call me back"."""
        return await self.rig.client.post(
            f"/handoff/actions/{action}",
            json={"to": to},
            headers={"Authorization": f"Bearer {token}"},
        )

    async def seen_by(self, token: str) -> list[dict[str, Any]]:
        """Every event the widget with ``token`` is shown on connecting."""
        async with widget(self.rig) as browser:
            _, history = await browser.hello(token)
        events: list[dict[str, Any]] = history["events"]
        return events

    async def customer_id(self, identity: Identity) -> str:
        return (await self.rig.customer(identity)).id

    @contextlib.asynccontextmanager
    async def agent(self, email: str, *, admin: bool = False) -> AsyncIterator[Agentside]:
        """An agent signed in to the agent view over HTTP, as a browser does."""
        await create_agent(
            self.rig.hub.store,
            email=email,
            name=email.split("@")[0].title(),
            password=PASSWORD,
            role=AgentRole.ADMIN if admin else AgentRole.AGENT,
        )
        async with httpx.AsyncClient(base_url=self.rig.url) as client:
            side = Agentside(client)
            r = await side.sign_in(email, PASSWORD)
            assert r.status_code == 303, r.text
            yield side


def texts(events: list[dict[str, Any]]) -> str:
    """Everything a surface showed, as one string to search."""
    return "\n".join(str(e.get("text") or "") for e in events)


@contextlib.asynccontextmanager
async def journey_site(
    store: TimelineStore,
    tmp_path: Path,
    mailbox: Mailbox,
    smtp: SmtpSink,
    chat: dict[str, Any] | None = None,
    **handoff: Any,
) -> AsyncIterator[Site]:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        email = {"secret": SECRET, "accounts": [mailbox.account(**smtp.account())]}
        connectors = {"chat": chat or CHAT, "twilio": twilio_settings(rest_url), "email": email}
        async with running_hub(store, tmp_path, connectors, **handoff) as rig:
            connector = rig.hub.connectors["email"]
            assert isinstance(connector, EmailConnector)
            async with asyncio.timeout(10):
                await connector.watchers[0].idling.wait()
            yield Site(rig, rest, smtp, mailbox)


@pytest.fixture
async def site(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> AsyncIterator[Site]:
    async with journey_site(store, tmp_path, mailbox, smtp_sink) as site:
        yield site


__all__ += ["CHAT", "Widget", "journey_site", "site", "texts"]
