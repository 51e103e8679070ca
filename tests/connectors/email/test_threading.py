"""Replies in the shapes of real clients thread and strip correctly (real pipeline + SMTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.connectors.base import OutboundMessage
from hub.timeline.model import DeliveryStatus, Direction, Identity
from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import SmtpSink, fixture
from tests.connectors.email.rig import Rig, email_settings, first_mail, make_rig


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    async with make_rig(store, tmp_path, email_settings(smtp_sink.port)) as r:
        yield r


CLIENTS = [
    # fixture, customer, reply via token (else plain address), expected text, quoted text
    (
        "gmail_reply.eml",
        "Ana Lima <ana@example.com>",
        True,
        "Thanks, the tracking number works now. Could you also send the invoice?",
        "warehouse",
    ),
    (
        "outlook_reply_html.eml",
        "Bruno Costa <bruno.costa@example.com>",
        False,
        "Hello,\n\nThe parcel arrived damaged. Can I get a replacement?",
        "warehouse",
    ),
    (
        "apple_mail_reply.eml",
        "Chloe Martin <chloe@example.com>",
        True,
        "Perfect, I will pick it up on Friday.",
        "pick-up",
    ),
    (
        "german_reply_latin1.eml",
        "Jürgen Müller <juergen@example.com>",
        False,
        "Vielen Dank! Die Größe passt leider nicht, ich möchte umtauschen.",
        "Hallo",
    ),
    (
        "french_reply.eml",
        "Hélène Dupont <helene@example.com>",
        True,
        "Merci beaucoup, le colis est bien arrivé.",
        "Bonjour",
    ),
]


@pytest.mark.parametrize(
    ("name", "customer", "via_token", "expected", "quoted"),
    CLIENTS,
    ids=[c[0].removesuffix(".eml") for c in CLIENTS],
)
async def test_client_reply_joins_the_conversation_with_quotes_stripped(
    rig: Rig,
    smtp_sink: SmtpSink,
    name: str,
    customer: str,
    via_token: bool,
    expected: str,
    quoted: str,
) -> None:
    first = await rig.receive(first_mail(customer, "Where is my order?", "<first@client.example>"))
    assert first is not None
    sent = await rig.reply(first, "Your parcel left our warehouse today.")
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    [out] = await smtp_sink.wait_for(1)
    reply_to = str(out["Reply-To"]) if via_token else "support@example.org"

    raw = fixture(name, PARENT_ID=str(out["Message-ID"]), REPLY_TO=reply_to)
    reply = await rig.receive(raw)

    assert reply is not None
    assert reply.conversation_id == first.conversation_id
    assert reply.text == expected
    assert quoted not in (reply.text or "")
    assert reply.meta["stripped"] is True
    assert "<script" not in (reply.html or "")
    assert await rig.blobs.get(reply.meta["raw_blob"]) == raw  # the raw message is kept whole


async def test_agent_reply_is_threaded_with_signed_reply_to(rig: Rig, smtp_sink: SmtpSink) -> None:
    first = await rig.receive(
        first_mail("Ana <ana@example.com>", "Where is my order?", "<a1@client.example>")
    )
    assert first is not None
    await rig.reply(first, "On its way.")
    second = await rig.receive(
        fixture(
            "gmail_reply.eml",
            PARENT_ID=str((await smtp_sink.wait_for(1))[0]["Message-ID"]),
            REPLY_TO="reply@example.org",
        )
    )
    assert second is not None
    await rig.reply(second, "Invoice attached soon.")
    first_out, second_out = await smtp_sink.wait_for(2)
    assert first_out["In-Reply-To"] == "<a1@client.example>"
    assert first_out["Subject"] == "Re: Where is my order?"
    assert str(first_out["Reply-To"]).startswith("reply+")
    assert str(first_out["Reply-To"]).endswith("@example.org")
    assert second_out["In-Reply-To"] == second.thread_ref
    assert str(second_out["References"]).split()[0] == "<a1@client.example>"
    assert second_out.get_body(("plain",)) is not None


async def test_same_event_keeps_its_message_id_across_retries(
    rig: Rig, smtp_sink: SmtpSink
) -> None:
    first = await rig.receive(first_mail("ana@example.com", "Hi", "<r1@client.example>"))
    assert first is not None and first.conversation_id is not None
    smtp_sink.reply = "451 4.3.0 try again later"
    queued = await rig.pipeline.send(first.conversation_id, text="Hello", channel="email")
    await rig.outbox.run_once()
    await rig.outbox.drain()
    retried = await rig.store.get_event(queued.id)
    assert retried.delivery is not None and retried.delivery.status is DeliveryStatus.QUEUED
    assert "451" in (retried.delivery.error or "")

    smtp_sink.reply = "250 OK"
    await rig.connector.send(await _outbound(rig, queued.id))
    await rig.connector.send(await _outbound(rig, queued.id))
    a, b = await smtp_sink.wait_for(2)
    assert a["Message-ID"] == b["Message-ID"]


async def _outbound(rig: Rig, event_id: str) -> OutboundMessage:
    event = await rig.store.get_event(event_id)
    assert event.identity is not None
    return OutboundMessage(
        event_id=event.id,
        channel="email",
        to=event.identity,
        customer_id=event.customer_id,
        conversation_id=event.conversation_id,
        text=event.text,
    )


async def test_permanent_smtp_failure_shows_the_server_text(rig: Rig, smtp_sink: SmtpSink) -> None:
    first = await rig.receive(first_mail("ana@example.com", "Hi", "<p1@client.example>"))
    assert first is not None
    smtp_sink.reply = "554 5.7.1 Message rejected as spam"
    failed = await rig.reply(first, "Hello")
    assert failed.delivery is not None and failed.delivery.status is DeliveryStatus.FAILED
    assert failed.delivery.error == "SMTP 554: 5.7.1 Message rejected as spam"


async def test_new_subject_without_reply_headers_is_a_new_conversation(rig: Rig) -> None:
    first = await rig.receive(first_mail("ana@example.com", "Where is my order?", "<n1@c.example>"))
    topic = await rig.receive(fixture("new_topic.eml"))
    forward = await rig.receive(fixture("gmail_forward.eml"))
    assert first is not None and topic is not None and forward is not None
    assert len({first.conversation_id, topic.conversation_id, forward.conversation_id}) == 3
    assert topic.customer_id == first.customer_id == forward.customer_id
    assert forward.meta["forwarded"] is True
    assert "Total due: 120.00 EUR" in (forward.text or "")


async def test_reply_to_own_earlier_mail_threads_by_stored_message_id(rig: Rig) -> None:
    first = await rig.receive(first_mail("chloe@example.com", "Pick-up", "<c1@mac.example>"))
    follow = await rig.receive(
        fixture(
            "apple_mail_reply.eml", PARENT_ID="<c1@mac.example>", REPLY_TO="support@example.org"
        )
    )
    assert first is not None and follow is not None
    assert follow.conversation_id == first.conversation_id


async def test_reply_token_of_another_customers_conversation_is_not_honoured(
    rig: Rig, smtp_sink: SmtpSink
) -> None:
    ana = await rig.receive(first_mail("ana@example.com", "Order", "<o1@c.example>"))
    assert ana is not None
    await rig.reply(ana, "Thanks")
    [out] = await smtp_sink.wait_for(1)
    intruder = await rig.receive(
        fixture("french_reply.eml", REPLY_TO=str(out["Reply-To"])).replace(
            b"helene@example.com", b"mallory@example.com"
        )
    )
    assert intruder is not None and intruder.conversation_id != ana.conversation_id


@pytest.mark.parametrize(
    ("name", "auto"), [("out_of_office.eml", "auto-replied"), ("list_mail.eml", "list")]
)
async def test_automatic_mail_is_recorded_and_never_auto_answered(
    rig: Rig, smtp_sink: SmtpSink, name: str, auto: str
) -> None:
    first = await rig.receive(first_mail("bruno.costa@example.com", "Order", "<o1@c.example>"))
    assert first is not None
    await rig.reply(first, "On its way")
    [out] = await smtp_sink.wait_for(1)
    smtp_sink.received.clear()
    event = await rig.receive(fixture(name, PARENT_ID=str(out["Message-ID"])))
    assert event is not None and event.meta["auto"] == auto
    assert event.direction is Direction.IN and event.conversation_id is not None
    failed = await rig.reply(event, "Thanks for your mail!", meta={"automated": True})
    assert failed.delivery is not None and failed.delivery.status is DeliveryStatus.FAILED
    assert "not answering automatically" in (failed.delivery.error or "")
    assert smtp_sink.received == []


async def test_bounce_of_our_mail_marks_the_delivery_failed(rig: Rig, smtp_sink: SmtpSink) -> None:
    first = await rig.receive(first_mail("nobody@example.com", "Hi", "<b1@c.example>"))
    assert first is not None
    sent = await rig.reply(first, "Hello")
    [out] = await smtp_sink.wait_for(1)
    await rig.receive(fixture("bounce.eml", PARENT_ID=str(out["Message-ID"])))
    after = await rig.store.get_event(sent.id)
    assert after.delivery is not None and after.delivery.status is DeliveryStatus.FAILED
    assert "550 5.1.1" in (after.delivery.error or "")


async def test_bad_input_is_stored_not_fatal(rig: Rig) -> None:
    broken = await rig.receive(fixture("broken_charset_no_message_id.eml"))
    assert broken is not None and broken.text == "Grüße aus Köln, my order never came."
    assert broken.meta["derived_message_id"] is True and broken.subject == "Grüße"
    assert (await rig.receive(fixture("broken_charset_no_message_id.eml"))) == broken  # stable id

    malformed = await rig.receive(fixture("malformed_mime.eml"))
    assert malformed is not None and malformed.text == "The attachment is my receipt."
    [png] = malformed.attachments
    assert png.filename == "receipt.png"
    assert (await rig.blobs.get(png.blob_id)).startswith(b"\x89PNG")

    assert await rig.receive(fixture("no_sender.eml")) is None
    [junk] = await rig.store.list_quarantined()
    assert await rig.blobs.get(junk.raw_blob) == fixture("no_sender.eml")

    big = first_mail("ana@example.com", "Scan", "<big@c.example>")
    huge = await rig.receive(big, too_large=True)
    assert huge is not None and huge.meta["too_large"] is True and huge.subject == "Scan"


async def test_an_agent_writes_first_to_a_new_address_by_real_smtp(
    rig: Rig, smtp_sink: SmtpSink
) -> None:
    started = await rig.pipeline.start_conversation(
        channel="email",
        to="Noor@Example.COM",
        text="Your replacement card is on its way.",
        subject="Your replacement card",
        name="Noor",
        author="Ana Agent",
    )
    assert started.new_customer and started.event.identity == Identity("email", "noor@example.com")
    await rig.outbox.run_once()
    await rig.outbox.drain()
    [mail] = await smtp_sink.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == "noor@example.com"
    assert mail["Subject"] == "Your replacement card"
    assert "Your replacement card is on its way." in mail.get_body(("plain",)).get_content()
    again = await rig.pipeline.start_conversation(
        channel="email", to="email:noor@example.com", text="One more thing", name="Someone"
    )
    assert not again.new_customer and again.customer.id == started.customer.id
    assert again.conversation.id != started.conversation.id
