"""The email connector wired to a real pipeline, store, blob store and outbox.

Mail is handed to ``connector.handle`` as if fetched over IMAP; replies go
through the outbox to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from hub.bus import Bus
from hub.connectors.base import ConnectorContext, InboundMessage, IngestResult
from hub.connectors.email import EmailConnector, EmailSettings
from hub.connectors.email.imap import FetchedMail
from hub.outbox import Outbox
from hub.pipeline import Pipeline
from hub.settings import OutboxSettings
from hub.timeline.blobs import FileBlobStore
from hub.timeline.model import Event, utcnow
from hub.timeline.store import TimelineStore

SECRET = "email-reply-secret-0123456789"
FAST = OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05, max_attempts=3)


@dataclass
class Checkpoints:
    store: TimelineStore

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self.store.get_checkpoint("email", key)

    async def set(self, key: str, value: dict[str, Any]) -> None:
        await self.store.set_checkpoint("email", key, value)


@dataclass
class Rig:
    store: TimelineStore
    bus: Bus
    pipeline: Pipeline
    connector: EmailConnector
    outbox: Outbox
    blobs: FileBlobStore
    uid: int = 0

    async def receive(self, raw: bytes, *, too_large: bool = False) -> Event | None:
        self.uid += 1
        return await self.connector.handle(
            FetchedMail("support", "INBOX", 1, self.uid, raw, len(raw), too_large=too_large)
        )

    async def reply(self, event: Event, text: str, **kw: Any) -> Event:
        """An agent's reply on the email channel, delivered by the outbox."""
        assert event.conversation_id is not None
        queued = await self.pipeline.send(event.conversation_id, text=text, channel="email", **kw)
        await self.outbox.run_once()
        await self.outbox.drain()
        return await self.store.get_event(queued.id)


def first_mail(sender: str, subject: str, message_id: str, text: str = "Hello") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Omnihub Support <support@example.org>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id
    msg.set_content(text)
    return msg.as_bytes()


def email_settings(smtp_port: int, account: dict[str, Any] | None = None) -> EmailSettings:
    return EmailSettings.model_validate(
        {
            "secret": SECRET,
            "accounts": [
                account
                or {
                    "name": "support",
                    "address": "support@example.org",
                    "display_name": "Omnihub Support",
                    "reply_to": "reply@example.org",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "smtp_security": "plain",
                    "timeout_seconds": 5,
                }
            ],
        }
    )


Ingest = Callable[[InboundMessage], Awaitable[IngestResult]]


@contextlib.asynccontextmanager
async def make_rig(
    store: TimelineStore,
    tmp: Path,
    settings: EmailSettings,
    wrap: Callable[[Ingest], Ingest] | None = None,
) -> AsyncIterator[Rig]:
    bus = Bus()
    pipeline = Pipeline(store, bus, channels={s.name: s for s in EmailConnector.channel_specs()})
    blobs = FileBlobStore(tmp / "blobs")
    context = ConnectorContext(
        ingest=wrap(pipeline.ingest) if wrap else pipeline.ingest,
        report_delivery=pipeline.report_delivery,
        blobs=blobs,
        checkpoints=Checkpoints(store),
        public_url="http://127.0.0.1",
        max_body_bytes=1 << 20,
        logger=logging.getLogger("tests.email"),
        quarantine=store.quarantine,
    )
    connector = EmailConnector(settings, context)
    outbox = Outbox(store, pipeline, {"email": connector}, FAST)
    try:
        yield Rig(store, bus, pipeline, connector, outbox, blobs)
    finally:
        await connector.stop()
        await outbox.stop()
        bus.close()
