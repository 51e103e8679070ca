"""Honest senders: spoofing display names flagged, SMTPUTF8 addresses, reused Message-IDs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.agent.kit import hub_for_agents
from tests.connectors.email.conftest import SmtpSink
from tests.connectors.email.rig import Rig, email_settings, first_mail, make_rig


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    async with make_rig(store, tmp_path, email_settings(smtp_sink.port)) as r:
        yield r


SPOOF = (
    b"From: ceo@bank.example <attacker@evil.example>\r\n"
    b"To: support@example.org\r\nSubject: Urgent transfer\r\n"
    b"Date: Tue, 6 Jan 2026 10:00:00 +0000\r\nMessage-ID: <spoof-1@evil.example>\r\n\r\n"
    b"Please change the bank details on my account.\r\n"
)


async def test_display_name_that_looks_like_an_address_is_flagged(
    store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    async with hub_for_agents(store, tmp_path) as running:
        async with make_rig(store, tmp_path / "rig", email_settings(smtp_sink.port)) as rig:
            event = await rig.receive(SPOOF)
        assert event is not None and event.identity == Identity("email", "attacker@evil.example")
        assert event.meta["sender_warning"] == {
            "shown": "ceo@bank.example",
            "address": "attacker@evil.example",
        }
        customer = await store.get_customer(event.customer_id)
        assert customer.name != "ceo@bank.example"

        await running.agent("agent@example.org")
        async with running.signed_in("agent@example.org") as side:
            page = await side.client.get(f"/agent/conversations/{event.conversation_id}")
            assert page.status_code == 200
            assert "the sender's name looks like the address ceo@bank.example" in page.text
            assert "came from attacker@evil.example" in page.text


async def test_internationalised_addresses_are_accepted(rig: Rig) -> None:
    raw = (
        "From: Jürgen <jürgen@müller.example>\r\nTo: support@example.org\r\n"
        "Subject: Grüße\r\nDate: Tue, 6 Jan 2026 10:00:00 +0000\r\n"
        "Message-ID: <utf8-1@müller.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHallo!\r\n"
    ).encode()
    event = await rig.receive(raw)
    assert event is not None and event.identity == Identity("email", "jürgen@müller.example")
    assert event.text == "Hallo!" and "sender_warning" not in event.meta


async def test_a_different_message_reusing_a_message_id_is_kept(rig: Rig) -> None:
    one = first_mail("ana@example.com", "Order", "<same@c.example>", "One")
    two = first_mail("bob@example.com", "Hi", "<same@c.example>", "Two")
    first = await rig.receive(one)
    relayed = b"Received: from relay.example by mx.example.org\r\n" + one
    again = await rig.receive(relayed)  # the same message, another delivery
    other = await rig.receive(two)
    assert first is not None and again is not None and other is not None
    assert again.id == first.id
    assert other.id != first.id and other.text == "Two"
    assert other.meta["reused_message_id"] is True
    replay = await rig.receive(two)
    assert replay is not None and replay.id == other.id
