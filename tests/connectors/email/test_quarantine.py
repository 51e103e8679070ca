# ruff: noqa: RUF001
"""No message wedges a mailbox: raw 8-bit headers decoded, the rest quarantined.

End to end: mail appended to a real Dovecot, read over IMAP IDLE by the running
hub, quarantined mail listed and retried in the agent view.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.connectors.base import InboundMessage, IngestResult
from hub.connectors.email import EmailConnector
from hub.connectors.email.imap import checkpoint_key
from hub.timeline.model import Event
from hub.timeline.quarantine import QuarantineStatus
from hub.timeline.store import TimelineStore
from tests.agent.kit import hub_for_agents
from tests.connectors.email.conftest import Mailbox, SmtpSink, fixture
from tests.connectors.email.rig import SECRET, Rig, email_settings, first_mail, make_rig

EIGHT_BIT = [
    # fixture, Message-ID, customer name, subject, text
    (
        "raw_8bit_latin1_headers.eml",
        "<latin1-raw@example.de>",
        "Jürgen Müller",
        "Grüße aus München",
        "Schöne Grüße, die Rechnung ist angehängt.",
    ),
    (
        "rfc6532_utf8_headers.eml",
        "<utf8-raw@example.cn>",
        "张伟",
        "订单问题 — заказ №42",
        "你好，我的订单还没有到。",
    ),
    (
        "raw_8bit_koi8r_headers.eml",
        "<koi8-raw@example.ru>",
        "Иван Петров",
        "Не работает оплата заказа",
        "Здравствуйте! Оплата картой не проходит.",
    ),
]


@pytest.mark.parametrize(
    ("name", "message_id", "customer", "subject", "text"),
    EIGHT_BIT,
    ids=[c[0].removesuffix(".eml") for c in EIGHT_BIT],
)
async def test_raw_8bit_and_utf8_headers_are_decoded(
    store: TimelineStore,
    tmp_path: Path,
    smtp_sink: SmtpSink,
    name: str,
    message_id: str,
    customer: str,
    subject: str,
    text: str,
) -> None:
    async with make_rig(store, tmp_path, email_settings(smtp_sink.port)) as rig:
        event = await rig.receive(fixture(name))
    assert event is not None
    stored = await store.find_event("email", message_id)
    assert stored is not None and stored.subject == subject and stored.text == text
    assert (await store.get_customer(stored.customer_id)).name == customer


async def test_unreadable_mail_is_quarantined_with_its_bytes(rig: Rig) -> None:
    assert await rig.receive(fixture("no_sender.eml")) is None
    [held] = await rig.store.list_quarantined()
    assert held.channel == "email" and held.reason == "no From address"
    assert held.source["uid"] == rig.uid and held.source["mailbox"] == "INBOX"
    assert await rig.blobs.get(held.raw_blob) == fixture("no_sender.eml")
    assert await rig.receive(fixture("no_sender.eml")) is None  # the same bytes again
    [again] = await rig.store.list_quarantined()
    assert again.id == held.id and again.attempts == 2


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink) -> Any:
    async with make_rig(store, tmp_path, email_settings(smtp_sink.port)) as r:
        yield r


class Refusing:
    """Wraps the hub's ingest: refuses one Message-ID while ``on`` (a store that
    keeps rejecting one document), counting the refusals."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.on = True
        self.refused = 0

    def wrap(self, ingest: Callable[[InboundMessage], Any]) -> Callable[[InboundMessage], Any]:
        async def refusing(message: InboundMessage) -> IngestResult:
            if self.on and message.external_id == self.message_id:
                self.refused += 1
                raise RuntimeError("document refused by the store")
            result: IngestResult = await ingest(message)
            return result

        return refusing


async def wait_for_event(store: TimelineStore, message_id: str, within: float = 20.0) -> Event:
    async with asyncio.timeout(within):
        while True:
            event = await store.find_event("email", message_id)
            if event is not None:
                return event
            await asyncio.sleep(0.05)


async def test_no_message_wedges_the_mailbox_and_agents_retry_quarantined_mail(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    refused = first_mail("dora@example.com", "Refund", "<refused@c.example>", "Please refund.")
    mails = [
        fixture("raw_8bit_latin1_headers.eml"),
        fixture("no_sender.eml"),
        fixture("rfc6532_utf8_headers.eml"),
        refused,
        fixture("raw_8bit_koi8r_headers.eml"),
        first_mail("eve@example.com", "Last", "<last@c.example>", "Still arriving."),
    ]
    await mailbox.append(*mails)
    email = {"secret": SECRET, "accounts": [mailbox.account(**smtp_sink.account())]}
    refusing = Refusing("<refused@c.example>")
    async with hub_for_agents(store, tmp_path, connectors={"email": email}) as running:
        connector = running.hub.connectors["email"]
        assert isinstance(connector, EmailConnector)
        await connector.stop()  # restarted below with the refusing ingest
        connector.context = dataclasses.replace(
            connector.context, ingest=refusing.wrap(connector.context.ingest)
        )
        for watcher in connector.watchers:
            watcher.handler = connector.handle
        await connector.start()

        await wait_for_event(store, "<last@c.example>")
        for _, message_id, *_ in EIGHT_BIT:
            assert await store.find_event("email", message_id) is not None
        key = checkpoint_key("support", mailbox.name)
        async with asyncio.timeout(20):  # the cursor moves just after the last ingest
            while True:
                if (await store.get_checkpoint("email", key) or {}).get("last_uid") == len(mails):
                    break
                await asyncio.sleep(0.05)
        held = {q.summary or "": q for q in await store.list_quarantined()}
        assert len(held) == 2
        stuck = next(q for s, q in held.items() if "Refund" in s)
        junk = next(q for s, q in held.items() if "Refund" not in s)
        assert stuck.attempts == refusing.refused == 3
        assert stuck.reason == "RuntimeError: document refused by the store"
        assert junk.reason == "no From address" and junk.source["uid"] == 2

        await running.agent("agent@example.org")
        async with running.signed_in("agent@example.org") as side:
            page = await side.client.get("/agent/quarantine")
            assert page.status_code == 200
            assert "From: dora@example.com · Subject: Refund" in page.text
            assert "no From address" in page.text
            raw = await side.client.get(f"/agent/quarantine/{junk.id}/raw")
            # as IMAP served it (Dovecot stores a NUL byte as 0x80)
            assert raw.content == b"this is not an email at all\r\n\x80\x01\x02"
            assert len(raw.content) == junk.size
            assert raw.headers["content-disposition"].startswith("attachment")

            still = await side.post(f"/agent/quarantine/{junk.id}/retry")
            assert still.status_code == 409 and still.json()["attempts"] == 2

            refusing.on = False  # the store accepts it now
            done = await side.post(f"/agent/quarantine/{stuck.id}/retry")
            assert done.status_code == 200, done.text
            assert done.json()["status"] == QuarantineStatus.RELEASED.value
            event = await store.get_event(done.json()["event_id"])
            assert event.external_id == "<refused@c.example>" and event.text == "Please refund."

            page = await side.client.get("/agent/quarantine")
            assert "Subject: Refund" not in page.text and "no From address" in page.text
