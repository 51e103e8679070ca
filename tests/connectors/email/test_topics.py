"""Threading beyond Message-IDs, and the chain our own mail carries (real pipeline + SMTP).

Replies whose client dropped In-Reply-To/References join the same customer's
recent conversation by subject (prefixes in many languages removed) or by
Outlook's Thread-Index; our replies carry the whole References chain, a
Thread-Index of their own, and ``Auto-Submitted`` when the hub wrote them.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import SmtpSink
from tests.connectors.email.rig import Rig, email_settings, first_mail, make_rig


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    async with make_rig(store, tmp_path, email_settings(smtp_sink.port)) as r:
        yield r


PREFIXES = ["RE: ", "AW: ", "SV: ", "Antw: ", "回复\uff1a", "FW: ", "WG: ", "Re[2]: AW: "]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_reply_without_reply_headers_joins_by_subject(rig: Rig, prefix: str) -> None:
    first = await rig.receive(first_mail("ana@example.com", "Where is my order?", "<t1@c.example>"))
    assert first is not None
    again = await rig.receive(
        first_mail("Ana <ANA@example.com>", f"{prefix}Where is my order?", "<t2@c.example>")
    )
    assert again is not None and again.conversation_id == first.conversation_id
    assert again.meta["threaded_by"] == "subject"


async def test_subject_never_joins_another_customers_conversation(rig: Rig) -> None:
    first = await rig.receive(first_mail("ana@example.com", "Where is my order?", "<u1@c.example>"))
    other = await rig.receive(
        first_mail("bob@example.com", "RE: Where is my order?", "<u2@c.example>")
    )
    assert first is not None and other is not None
    assert other.conversation_id != first.conversation_id


async def test_same_subject_without_a_prefix_is_a_new_topic(rig: Rig) -> None:
    first = await rig.receive(first_mail("ana@example.com", "Question", "<v1@c.example>"))
    second = await rig.receive(first_mail("ana@example.com", "Question", "<v2@c.example>"))
    assert first is not None and second is not None
    assert second.conversation_id != first.conversation_id


async def test_old_conversation_is_not_joined_by_subject(
    store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    settings = email_settings(smtp_sink.port).model_copy(update={"subject_thread_days": 0.0})
    async with make_rig(store, tmp_path, settings) as rig:
        first = await rig.receive(first_mail("ana@example.com", "Refund", "<w1@c.example>"))
        later = await rig.receive(first_mail("ana@example.com", "Re: Refund", "<w2@c.example>"))
        assert first is not None and later is not None
        assert later.conversation_id != first.conversation_id


async def test_outlook_reply_with_only_a_thread_index_joins(rig: Rig, smtp_sink: SmtpSink) -> None:
    first = await rig.receive(first_mail("cleo@example.com", "Invoice", "<x1@c.example>"))
    assert first is not None
    await rig.reply(first, "Attached.")
    [out] = await smtp_sink.wait_for(1)
    assert out["Thread-Topic"] == "Invoice"
    index = base64.b64decode(str(out["Thread-Index"]))
    assert len(index) == 22
    child = base64.b64encode(index + b"\x01\x02\x03\x04\x05").decode()  # Outlook appends 5 bytes

    raw = first_mail("cleo@example.com", "Another question", "<x2@c.example>")
    raw = raw.replace(b"Subject:", f"Thread-Index: {child}\nSubject:".encode(), 1)
    reply = await rig.receive(raw)
    assert reply is not None and reply.conversation_id == first.conversation_id
    assert reply.meta["threaded_by"] == "thread-index"


async def test_outbound_references_carry_the_whole_chain(rig: Rig, smtp_sink: SmtpSink) -> None:
    opening = first_mail("dan@example.com", "Broken", "<c1@c.example>")
    opening = opening.replace(b"Subject:", b"References: <pre-1@c.example>\nSubject:", 1)
    first = await rig.receive(opening)
    assert first is not None
    await rig.reply(first, "Which model?")
    [ours] = await smtp_sink.wait_for(1)
    assert str(ours["References"]).split() == ["<pre-1@c.example>", "<c1@c.example>"]

    answer = first_mail("dan@example.com", "Re: Broken", "<c2@c.example>", "The X200.")
    answer = answer.replace(b"Subject:", f"In-Reply-To: {ours['Message-ID']}\nSubject:".encode())
    second = await rig.receive(answer)
    assert second is not None and second.conversation_id == first.conversation_id
    await rig.reply(second, "Thanks, a new one is on its way.")
    [_, again] = await smtp_sink.wait_for(2)
    assert str(again["References"]).split() == [
        "<pre-1@c.example>",
        "<c1@c.example>",
        str(ours["Message-ID"]),
        "<c2@c.example>",
    ]
    assert again["In-Reply-To"] == "<c2@c.example>"


@pytest.mark.parametrize(
    ("meta", "header"),
    [
        ({}, None),
        ({"automated": True, "operations": "ack"}, "auto-replied"),
        ({"handoff": "email_transcript"}, "auto-generated"),
    ],
    ids=["agent", "acknowledgement", "transcript"],
)
async def test_mail_the_hub_writes_says_so(
    rig: Rig, smtp_sink: SmtpSink, meta: dict[str, object], header: str | None
) -> None:
    first = await rig.receive(first_mail("eva@example.com", "Hello", "<y1@c.example>"))
    assert first is not None
    await rig.reply(first, "Hi!", meta=meta)
    [out] = await smtp_sink.wait_for(1)
    assert out["Auto-Submitted"] == header
