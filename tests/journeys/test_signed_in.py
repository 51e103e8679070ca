"""A signed-in widget (``user_id`` and ``email``): the site vouches for the email
when it signs it too (``email_hash`` of ``"<user_id>|<email>"``) and then the
earlier email thread is hers in the widget; unsigned, it is only a suggestion and
the widget shows nothing of the thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.connectors.chat.visitors import email_subject, user_hash
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import Mailbox, SmtpSink
from tests.connectors.email.rig import first_mail
from tests.journeys.conftest import Site, journey_site, texts, widget

IDENTITY_SECRET = "site-identity-secret-0123456789"
THREAD = "The invoice 2020 was charged twice"
ANA = Identity("email", "ana@example.com")


@pytest.fixture
async def signed_site(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> AsyncIterator[Site]:
    chat = {
        "sites": {"default": {"origins": ["*"], "identity_secret": IDENTITY_SECRET}},
        "availability": "online",
    }
    async with journey_site(store, tmp_path, mailbox, smtp_sink, chat=chat) as site:
        await site.mailbox.append(
            first_mail("Ana Lima <ana@example.com>", "Invoice", "<inv-1@c.example>", THREAD)
        )
        await site.rig.until(lambda: any(e.channel == "email" for e in site.rig.latest.values()))
        yield site


def identify(email_hash: str | None) -> dict[str, object]:
    frame: dict[str, object] = {
        "type": "identify",
        "user_id": "u-77",
        "email": "Ana@Example.com",
        "name": "Ana Lima",
        "user_hash": user_hash(IDENTITY_SECRET, "u-77"),
    }
    if email_hash is not None:
        frame["email_hash"] = email_hash
    return frame


async def test_a_signed_email_brings_the_email_thread_into_the_widget(signed_site: Site) -> None:
    site, rig = signed_site, signed_site.rig
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        signed = user_hash(IDENTITY_SECRET, email_subject("u-77", "ana@example.com"))
        await browser.send(identify(signed))
        await browser.receive("identified")
        history = await browser.receive("events")
        assert THREAD in texts(history["events"])
    customer = await site.customer_id(Identity("chat", welcome["visitor"]))
    assert await site.customer_id(ANA) == customer
    [conv] = await site.conversations()
    assert conv["customer_id"] == customer


async def test_an_unsigned_email_is_only_a_suggestion(signed_site: Site) -> None:
    site, rig = signed_site, signed_site.rig
    ana = await site.customer_id(ANA)
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        await browser.send(identify(None))
        await browser.receive("identified")
        history = await browser.receive("events")
        assert THREAD not in texts(history["events"])
        forged = identify(user_hash("not-the-secret", email_subject("u-77", "ana@example.com")))
        await browser.send(forged)
        await browser.receive("identified")
        again = await browser.receive("events")
        assert THREAD not in texts(again["events"])
    user = await site.customer_id(Identity("chat", welcome["visitor"]))
    assert user != ana and await site.customer_id(ANA) == ana
    [suggestion] = (await rig.api.get("/api/v1/suggestions", params={"customer_id": user})).json()[
        "items"
    ]
    assert suggestion["identity"] == str(ANA) and suggestion["other_customer_id"] == ana
    assert suggestion["status"] == "pending"
    assert THREAD not in texts(await site.seen_by(welcome["token"]))
