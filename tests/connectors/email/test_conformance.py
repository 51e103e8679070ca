"""The conformance kit over the built-in ``email`` connector.

Email has no webhook: mail arrives in a real Dovecot folder (IMAP APPEND) and
the connector's IMAP watcher, started by ``start()``, ingests it
(``inbound = "source"``; the kit waits for the mailbox checkpoint). Replies go
to a real SMTP server (aiosmtpd) that can answer 451 or 550 on demand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller

from hub.connectors import Connector
from hub.connectors.email import EmailConnector
from hub.connectors.email.imap import checkpoint_key
from hub.testing import ConnectorKit, Failure, Fixture, KitHub, ProviderDouble
from tests.connectors.email.conftest import Mailbox
from tests.connectors.email.dovecot import Dovecot
from tests.peers import free_port

SECRET = "email-kit-secret-0123456789"


@dataclass
class MailProvider:
    """The mail provider: an IMAP folder (inbound) and an SMTP server (outbound)."""

    mailbox: Mailbox
    port: int = field(default_factory=free_port)
    url: str = ""
    accepted: list[bytes] = field(default_factory=list)
    failure: Failure | None = None
    times: int | None = None

    @property
    def received(self) -> list[bytes]:
        return list(self.accepted)

    def fail(self, failure: Failure | None, *, times: int | None = None) -> None:
        self.failure, self.times = failure, times

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failure is not None:
            answer = "451 4.3.0 Try again later"
            if self.failure == "permanent":
                answer = "550 5.1.1 Mailbox unavailable"
            if self.times is not None:
                self.times -= 1
                if self.times <= 0:
                    self.failure, self.times = None, None
            return answer
        self.accepted.append(envelope.content)
        return "250 OK"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[MailProvider]:
        self.mailbox.create()
        controller = Controller(self, hostname="127.0.0.1", port=self.port)
        await asyncio.to_thread(controller.start)
        self.url = f"smtp://127.0.0.1:{self.port}"
        try:
            yield self
        finally:
            await asyncio.to_thread(controller.stop)


class TestEmailConnector(ConnectorKit):
    connector: ClassVar[type[Connector]] = EmailConnector
    fixtures = Path(__file__).parent / "kit_fixtures"
    inbound = "source"

    @pytest.fixture(autouse=True)
    def _mail_server(self, dovecot: Dovecot) -> None:
        self.mail = MailProvider(Mailbox(dovecot, f"k{id(self):x}"))
        self.appended = 0

    def provider(self) -> Any:
        return self.mail.running()

    def settings(self, provider: ProviderDouble) -> dict[str, Any]:
        account = {
            **self.mail.mailbox.account(),
            "smtp_host": "127.0.0.1",
            "smtp_port": self.mail.port,
            "smtp_security": "plain",
            "timeout_seconds": 5,
        }
        return {"secret": SECRET, "accounts": [account]}

    async def deliver(self, hub: KitHub, fixture: Fixture) -> None:
        """APPEND the message to the folder, whatever the watcher is doing (connecting,
        fetching, idling); done once the watcher checkpointed past it."""
        await self.mail.mailbox.append(fixture.body)
        self.appended += 1
        key = checkpoint_key("support", self.mail.mailbox.name)
        await hub.until(lambda: hub.checkpoints.get(key, {}).get("last_uid", 0) >= self.appended)
