"""Continue on another channel from the conversation page: the handoff link actions
(email the conversation, verification link, text, call back) through the agent view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.connectors.base import InboundMessage
from hub.timeline.model import EventKind, Identity
from hub.timeline.store import ConversationUpdate, TimelineStore
from tests.agent.kit import Running, hub_for_agents
from tests.connectors.email.conftest import SmtpSink, smtp_sink

__all__ = ["smtp_sink"]

VISITOR = Identity("chat", "v_offline_visitor")
CLAIMED = "ana.lima@example.com"


@pytest.fixture
async def running(
    store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink
) -> AsyncIterator[Running]:
    email = {
        "secret": "email-reply-secret-0123456789",
        "accounts": [
            {
                "name": "support",
                "address": "support@example.org",
                "display_name": "Omnihub Support",
                **smtp_sink.account(),
            }
        ],
    }
    async with hub_for_agents(store, tmp_path, connectors={"email": email}) as r:
        yield r


async def offline_chat(running: Running, text: str = "Leaving my email, back later") -> str:
    """A chat visitor who went offline and left an (unverified) email; the conversation id."""
    result = await running.hub.pipeline.ingest(
        InboundMessage(
            channel="chat",
            external_id="offline-1",
            identity=VISITOR,
            text=text,
            meta={"claimed_email": CLAIMED, "verified": False, "site": "default"},
        )
    )
    conversation_id: str = result.event.conversation_id
    return conversation_id


async def test_email_the_conversation_to_the_claimed_address(
    running: Running, smtp_sink: SmtpSink
) -> None:
    await running.agent("ana@example.com", name="Ana Agent")
    conv = await offline_chat(running, text="Is order <b>77</b> shipped?")
    async with running.signed_in("ana@example.com") as ana:
        page = await ana.client.get(f"/agent/conversations/{conv}")
        assert "Continue on another channel" in page.text
        assert f'name="to" list="handoff-to-list" value="email:{CLAIMED}"' in page.text
        assert 'value="email_transcript"' in page.text and 'value="verify"' in page.text

        r = await ana.post(
            f"/agent/conversations/{conv}/handoff",
            {"action": "email_transcript", "to": f"email:{CLAIMED}"},
        )
        assert r.status_code == 202, r.text
        event: dict[str, Any] = r.json()["event"]
        assert event["conversation_id"] == conv
        assert (event["channel"], event["direction"]) == ("email", "out")
        assert event["identity"] == f"email:{CLAIMED}"
        assert event["meta"]["handoff"] == "email_transcript"
        assert event["author"] == "Ana Agent"
        assert event["delivery"]["status"] == "queued"

    # The same event is on the conversation's timeline, and the mail goes out to her.
    stored = await running.hub.store.get_event(event["id"])
    assert stored.conversation_id == conv and stored.kind is EventKind.MESSAGE
    assert stored.identity == Identity("email", CLAIMED)
    page_events = await running.hub.store.events(conversation_id=conv, limit=50)
    assert event["id"] in [e.id for e in page_events.items]
    [sent] = await smtp_sink.wait_for(1)
    assert CLAIMED in sent["To"]
    body = sent.get_body(("plain",))
    assert body is not None and "Is order <b>77</b> shipped?" in body.get_content()


async def test_a_verification_link_and_errors_as_text(running: Running) -> None:
    await running.agent("ana@example.com")
    conv = await offline_chat(running)
    async with running.signed_in("ana@example.com") as ana:
        r = await ana.post(
            f"/agent/conversations/{conv}/handoff", {"action": "verify", "to": CLAIMED}
        )
        assert r.status_code == 202, r.text
        assert r.json()["event"]["meta"]["handoff"] == "verify"
        assert r.json()["event"]["identity"] == f"email:{CLAIMED}"

        unknown = await ana.post(
            f"/agent/conversations/{conv}/handoff", {"action": "fax_me", "to": CLAIMED}
        )
        assert unknown.status_code == 422 and unknown.json()["field"] == "action"
        # A plain form post gets the error page, the bad input rendered as text.
        bad = await ana.client.post(
            f"/agent/conversations/{conv}/handoff",
            data={"csrf": ana.csrf, "action": "verify", "to": "email:<script>x</script>"},
        )
        assert bad.status_code == 422
        assert "<script>x" not in bad.text
        # No sms connector: refused before anything is queued, with the reason.
        sms = await ana.post(
            f"/agent/conversations/{conv}/handoff",
            {"action": "text_me", "to": "phone:+14155550100"},
        )
        assert sms.status_code == 422 and "sms" in sms.json()["error"]


async def test_missing_csrf_is_refused(running: Running) -> None:
    await running.agent("ana@example.com")
    conv = await offline_chat(running)
    async with running.signed_in("ana@example.com") as ana:
        r = await ana.post(
            f"/agent/conversations/{conv}/handoff",
            {"action": "email_transcript", "to": CLAIMED},
            csrf="",
        )
        assert r.status_code == 403
    events = await running.hub.store.events(conversation_id=conv, limit=50)
    assert [e.channel for e in events.items if e.channel == "email"] == []


async def test_only_the_assignee_or_an_admin_may_continue_elsewhere(running: Running) -> None:
    ben = await running.agent("ben@example.com")
    await running.agent("carol@example.com")
    await running.agent("boss@example.com", admin=True, name="Boss")
    conv = await offline_chat(running)
    await running.hub.store.update_conversation(conv, ConversationUpdate(assignee=ben.id))
    async with running.signed_in("carol@example.com") as carol:
        page = await carol.client.get(f"/agent/conversations/{conv}")
        assert "Continue on another channel" in page.text
        r = await carol.post(
            f"/agent/conversations/{conv}/handoff", {"action": "email_transcript", "to": CLAIMED}
        )
        assert r.status_code == 403
    events = await running.hub.store.events(conversation_id=conv, limit=50)
    assert [e for e in events.items if e.channel == "email"] == []
    async with running.signed_in("boss@example.com") as boss:
        r = await boss.post(
            f"/agent/conversations/{conv}/handoff", {"action": "email_transcript", "to": CLAIMED}
        )
        assert r.status_code == 202, r.text
