"""Surveys on the customer's channel: email (signed, single-use links within the hour),
SMS (a reply of 1-5), never twice, answers on the timeline; bad links refused."""

from __future__ import annotations

import re
from datetime import timedelta

from hub.connectors.base import InboundMessage
from hub.timeline.model import ConversationStatus, EventKind, Identity
from tests.connectors.twilio_kit import CUSTOMER
from tests.operations.kit import until
from tests.surveys.conftest import SurveyHub

LINK = re.compile(r"(https://hub\.example\.com/s/[A-Za-z0-9_.\-]+)\?score=(\d+)")


async def test_email_survey_within_the_hour_answered_once_by_link(survey_hub: SurveyHub) -> None:
    s = survey_hub
    conv = await s.conversation(Identity("email", "ana@example.com"), "email", "Where is it?")
    await s.smtp.wait_for(1)  # the agent's reply
    await s.resolve(conv)
    assert s.hub.surveys is not None
    resolved_at = (await s.hub.store.get_conversation(conv)).resolved_at
    assert resolved_at is not None
    assert await s.hub.surveys.sweep(resolved_at + timedelta(minutes=5)) == []  # not yet
    assert await s.hub.surveys.sweep(resolved_at + timedelta(minutes=11)) == [conv]
    assert await s.hub.surveys.sweep(resolved_at + timedelta(minutes=12)) == []  # never twice
    mails = await s.smtp.wait_for(2)
    body = mails[1].get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "ana@example.com" in mails[1]["To"] and "Here is what I am doing" not in text
    links: dict[str, list[int]] = {}
    for url, score in LINK.findall(text):
        links.setdefault(url, []).append(int(score))
    csat, ces, nps = links  # in the order asked
    assert (links[csat], links[ces], links[nps]) == (
        [1, 2, 3, 4, 5],
        list(range(1, 8)),
        list(range(0, 11)),
    )

    # Opening a link records nothing (a mail scanner may open it): the page asks.
    page = await s.client.get(s.local(csat), params={"score": "4"})
    assert page.status_code == 200 and 'value="4" required checked' in page.text
    assert await s.answers(conv) == []
    done = await s.client.post(s.local(csat), data={"score": "4", "comment": "Quick <b>help</b>"})
    assert done.status_code == 200 and "Thank you" in done.text
    again = await s.client.post(s.local(csat), data={"score": "1"})
    assert again.status_code == 200
    assert await s.answers(conv) == [
        {"kind": "csat", "score": 4, "comment": "Quick <b>help</b>", "channel": "email"}
    ]
    assert "We have your answer" in (await s.client.get(s.local(csat))).text
    assert (await s.client.post(s.local(nps), data={"score": "10"})).status_code == 200
    assert [a["kind"] for a in await s.answers(conv)] == ["csat", "nps"]

    # The agent sees the answer; the conversation stays resolved.
    r = await s.api.get(f"/api/v1/conversations/{conv}/events")
    shown = [e["text"] for e in r.json()["items"] if e["meta"].get("survey")]
    assert shown == ["CSAT 4/5: Quick <b>help</b>", "NPS 10/10"]
    assert (await s.hub.store.get_conversation(conv)).status is ConversationStatus.RESOLVED

    forged = csat[:-3] + ("AAA" if not csat.endswith("AAA") else "BBB")
    assert (await s.client.post(s.local(forged), data={"score": "4"})).status_code == 403
    assert (await s.client.get(s.local(ces), params={"score": "9"})).status_code == 422
    bad = await s.client.post(s.local(ces), json={"score": 8})
    assert bad.status_code == 422 and bad.json()["field"] == "score"
    assert [a["kind"] for a in await s.answers(conv)] == ["csat", "nps"]


async def test_sms_survey_is_answered_by_a_reply_that_does_not_reopen(
    survey_hub: SurveyHub,
) -> None:
    s = survey_hub
    assert (await s.twilio.sms("SM-open", "My parcel is late")).status_code == 200
    customer = await s.hub.store.find_customer(Identity("phone", CUSTOMER))
    assert customer is not None
    conv = (await s.hub.store.events(customer_id=customer.id)).items[0].conversation_id
    assert conv is not None
    await s.hub.pipeline.send(conv, text="It arrives tomorrow.", author="Sam")
    await s.resolve(conv)
    await s.rest.wait(lambda: len(s.rest.messages) == 2)
    assert s.rest.messages[1]["Body"] == "Acme: how did we do? Reply 1 (poor) to 5 (great)."

    assert (await s.twilio.sms("SM-answer", " 4 ")).status_code == 200

    async def answered() -> list[object]:
        return await s.answers(conv)

    assert await until(answered) == [{"kind": "csat", "score": 4, "channel": "sms"}]
    reply = next(e for e in await s.events(conv) if e.external_id == "SM-answer")
    assert reply.kind is EventKind.STATUS and reply.meta["survey_reply"]["score"] == 4
    assert (await s.hub.store.get_conversation(conv)).status is ConversationStatus.RESOLVED
    assert len(s.rest.messages) == 2  # asked once


async def test_no_survey_for_spam_or_a_conversation_we_never_answered(
    survey_hub: SurveyHub,
) -> None:
    s = survey_hub
    assert s.hub.surveys is not None
    spam = await s.conversation(Identity("email", "spam@example.com"), "email", "Buy now")
    r = await s.api.patch(f"/api/v1/conversations/{spam}", json={"tags": ["spam"]})
    assert r.status_code == 200
    await s.resolve(spam)
    result = await s.hub.pipeline.ingest(
        InboundMessage(
            channel="email",
            external_id="unanswered-1",
            identity=Identity("email", "quiet@example.com"),
            text="Never mind, found it",
        )
    )
    quiet = result.event.conversation_id
    assert quiet is not None
    await s.resolve(quiet)
    for conv in (spam, quiet):
        fresh = await s.hub.store.get_conversation(conv)
        assert fresh.resolved_at is not None
        assert await s.hub.surveys.survey(fresh, "email", now=fresh.resolved_at) is False
        assert not [e for e in await s.events(conv) if "survey_sent" in e.meta]


async def test_the_effort_question_is_asked_only_for_the_named_inbox(
    survey_hub: SurveyHub,
) -> None:
    s = survey_hub
    assert s.hub.surveys is not None
    conv = await s.conversation(
        Identity("email", "bo@example.com"), "email", "Invoice copy?", account="sales"
    )
    await s.resolve(conv)
    fresh = await s.hub.store.get_conversation(conv)
    assert fresh.resolved_at is not None
    assert await s.hub.surveys.survey(fresh, "email", now=fresh.resolved_at) is True
    kinds = [e.meta["survey_sent"]["kind"] for e in await s.events(conv) if "survey_sent" in e.meta]
    assert kinds == ["csat", "nps"]  # no CES: ces_channels names email:support only
