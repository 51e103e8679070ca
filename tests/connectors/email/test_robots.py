"""Robots never open or reopen conversations (real pipeline, both stores, real SMTP).

Auto-replies join the conversation they answer without reopening it, changing
its preview or counting as the customer waiting; bounces mark the reply they
return as failed with the server's reason and open nothing. The bounces are
real ones from Sisimai's corpus (``corpus/sisimai/``) with our Message-ID put
where the returned message's was.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from hub.timeline.model import ConversationStatus, DeliveryStatus, Event, utcnow
from hub.timeline.store import ConversationUpdate, InboxFilter, TimelineStore
from tests.connectors.email.conftest import SmtpSink
from tests.connectors.email.rig import Rig, email_settings, first_mail, make_rig

CORPUS = Path(__file__).parent / "corpus" / "sisimai"
ANY_STATUS = InboxFilter(status=())


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    async with make_rig(store, tmp_path, email_settings(smtp_sink.port)) as r:
        yield r


async def _answered_and_resolved(rig: Rig, smtp_sink: SmtpSink, sender: str) -> tuple[Event, str]:
    first = await rig.receive(first_mail(sender, "Where is my order?", f"<q.{sender}>"))
    assert first is not None and first.conversation_id is not None
    sent = await rig.reply(first, "It left the warehouse today.")
    [out] = [m for m in await smtp_sink.wait_for(1) if m["To"] == sender.split("<")[-1].strip(">")]
    await rig.pipeline.update_conversation(
        first.conversation_id, ConversationUpdate(status=ConversationStatus.RESOLVED)
    )
    return sent, str(out["Message-ID"])


def _auto_reply(sender: str, parent: str, headers: dict[str, str], subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.org"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = f"<auto.{len(headers)}.{abs(hash(subject))}@client.example>"
    msg["In-Reply-To"] = parent
    for name, value in headers.items():
        msg[name] = value
    msg.set_content("I am out of the office until Monday and will reply then.")
    return msg.as_bytes()


AUTO_REPLIES = {
    "rfc3834": ({"Auto-Submitted": "auto-replied"}, "Away: Re: Where is my order?"),
    "gmail-vacation": (
        {"Auto-Submitted": "auto-replied", "Precedence": "bulk", "X-Autoreply": "yes"},
        "Re: Where is my order?",
    ),
    "exchange-oof": ({"X-Auto-Response-Suppress": "All"}, "Automatic reply: Where is my order?"),
    "exchange-subject-only": ({}, "Automatische Antwort: Where is my order?"),
    "precedence-auto_reply": ({"Precedence": "auto_reply"}, "Re: Where is my order?"),
    "x-autorespond": ({"X-Autorespond": "yes"}, "Re: Where is my order?"),
}


@pytest.mark.parametrize("style", list(AUTO_REPLIES))
async def test_auto_reply_joins_without_reopening_or_counting_as_the_customer(
    rig: Rig, smtp_sink: SmtpSink, style: str
) -> None:
    sender = f"{style}@client.example"
    sent, parent = await _answered_and_resolved(rig, smtp_sink, sender)
    assert sent.conversation_id is not None
    before = await rig.store.get_conversation(sent.conversation_id)

    headers, subject = AUTO_REPLIES[style]
    auto = await rig.receive(_auto_reply(sender, parent, headers, subject))

    assert auto is not None and auto.meta["automated"] is True, auto.meta
    assert auto.conversation_id == sent.conversation_id
    after = await rig.store.get_conversation(sent.conversation_id)
    assert after.status is ConversationStatus.RESOLVED
    assert after.last_message_preview == before.last_message_preview
    assert after.waiting_since is None
    page = await rig.store.list_conversations(InboxFilter(customer_id=auto.customer_id))
    assert page.items == []  # nothing open for the agent


async def test_person_replying_still_reopens(rig: Rig, smtp_sink: SmtpSink) -> None:
    sent, parent = await _answered_and_resolved(rig, smtp_sink, "person@client.example")
    msg = _auto_reply("person@client.example", parent, {}, "Re: Where is my order?")
    reply = await rig.receive(msg)
    assert reply is not None and "automated" not in reply.meta
    assert sent.conversation_id is not None
    conv = await rig.store.get_conversation(sent.conversation_id)
    assert conv.status is ConversationStatus.OPEN and conv.waiting_since is not None


def _with_our_id(raw: bytes, message_id: str) -> bytes:
    """The bounce with the returned message's Message-ID replaced by ``message_id``."""
    quoted = list(re.finditer(rb"(?im)^([ \t>]*Message-I[Dd]:[ \t]*)<[^<>\s]+>", raw))
    assert quoted, "no quoted Message-ID in this bounce"
    last = quoted[-1]
    return raw[: last.start()] + last.group(1) + message_id.encode() + raw[last.end() :]


BOUNCES = {
    "qmail-plain-text": ("lhost-qmail-01.eml", "550 Unknown user"),
    "exim-plain-text": ("lhost-exim-01.eml", "550"),
    "gmail": ("lhost-gmail-01.eml", "550"),
    "yahoo": ("lhost-yahoo-01.eml", "550"),
    "office365-dsn": ("lhost-office365-01.eml", "5.1.10"),
    "sendmail-dsn": ("lhost-sendmail-01.eml", "550"),
    "dragonfly-from-nobody": ("lhost-dragonfly-01.eml", "550"),
}


@pytest.mark.parametrize("style", list(BOUNCES))
async def test_bounce_marks_the_reply_failed_and_opens_nothing(
    rig: Rig, smtp_sink: SmtpSink, style: str
) -> None:
    name, reason = BOUNCES[style]
    sent, parent = await _answered_and_resolved(rig, smtp_sink, "gone@client.example")
    conversations = (await rig.store.list_conversations(ANY_STATUS)).items

    bounce = await rig.receive(_with_our_id((CORPUS / name).read_bytes(), parent))

    assert bounce is not None and bounce.meta["auto"] == "bounce"
    assert bounce.conversation_id is None
    assert parent in bounce.meta["bounce"]["message_ids"]
    failed = await rig.store.get_event(sent.id)
    assert failed.delivery is not None and failed.delivery.status is DeliveryStatus.FAILED
    assert reason in (failed.delivery.error or "")
    assert (await rig.store.list_conversations(ANY_STATUS)).items == conversations


async def test_null_sender_bounce_from_an_ordinary_address(rig: Rig, smtp_sink: SmtpSink) -> None:
    sent, parent = await _answered_and_resolved(rig, smtp_sink, "gone@client.example")
    raw = _with_our_id((CORPUS / "lhost-qmail-01.eml").read_bytes(), parent)
    daemon, person = b"MAILER-DAEMON@mx4.example.jp", b"Delivery <relay@mx4.example.jp>"
    raw = raw.replace(b"From: " + daemon, b"From: " + person)
    bounce = await rig.receive(raw)
    assert bounce is not None and bounce.meta["auto"] == "bounce"
    assert bounce.conversation_id is None
    failed = await rig.store.get_event(sent.id)
    assert failed.delivery is not None and failed.delivery.status is DeliveryStatus.FAILED


async def test_auto_generated_notification_starting_a_topic_is_a_message(rig: Rig) -> None:
    raw = first_mail("forms@shop.example", "New contact form entry", "<form.1@shop.example>")
    raw = raw.replace(b"Subject:", b"Auto-Submitted: auto-generated\nSubject:", 1)
    event = await rig.receive(raw)
    assert event is not None and event.meta["auto"] == "auto-generated"
    assert "automated" not in event.meta and event.conversation_id is not None
