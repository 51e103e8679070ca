"""An email from a second address answering our message (In-Reply-To) joins the
conversation it answers, marked unverified: the agent sees it in place with a
suggestion, nothing links until the agent confirms (a thread can be forwarded to
anyone), replies keep going to the customer's own address, and no customer
surface shows it. A reply from the exact address the hub emailed for a handoff
that confirms ("OK") is verified evidence, as an SMS reply to "text me" is."""

from __future__ import annotations

import html
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from hub.timeline.model import Identity, utcnow
from tests.connectors.email.rig import first_mail
from tests.journeys.conftest import Site, texts, widget

ANA = Identity("email", "ana@example.com")
WORK = Identity("email", "ana.lima@work.example")


def reply_mail(
    sender: str, in_reply_to: str, text: str, message_id: str = "<w-1@w.example>"
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Omnihub Support <support@example.org>"
    msg["Subject"] = "Re: Refund"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id
    msg["In-Reply-To"] = in_reply_to
    msg["References"] = in_reply_to
    msg.set_content(text)
    # Our Message-IDs are long: do not fold them (as mail clients do not).
    return msg.as_bytes(policy=policy.default.clone(max_line_length=998))


async def arrived(site: Site, text: str) -> None:
    await site.rig.until(lambda: any(e.text == text for e in site.rig.latest.values() if e.text))


async def test_a_reply_from_a_second_address_joins_in_place_as_a_suggestion(site: Site) -> None:
    rig = site.rig
    await site.mailbox.append(
        first_mail("Ana Lima <ana@example.com>", "Refund", "<r-1@c.example>", "Refund 31 please")
    )
    await rig.until(lambda: any(e.channel == "email" for e in rig.latest.values()))
    ana = await site.customer_id(ANA)
    [conv] = await site.conversations()
    r = await rig.api.post(
        f"/api/v1/conversations/{conv['id']}/reply", json={"text": "Refund 31 is on its way"}
    )
    assert r.status_code == 202, r.text
    [ours] = await site.smtp.wait_for(1)
    await site.mailbox.append(
        reply_mail("Ana Lima <ana.lima@work.example>", ours["Message-ID"], "Thanks, from work")
    )
    await arrived(site, "Thanks, from work")

    # One conversation: the answer is in the conversation it answers, unverified.
    assert [c["id"] for c in await site.conversations()] == [conv["id"]]
    [answer] = [e for e in await site.events(conv["id"]) if e["text"] == "Thanks, from work"]
    assert answer["meta"]["unverified_from"] == str(WORK)
    assert await rig.hub.store.find_customer(WORK) is None
    [suggestion] = (await rig.api.get("/api/v1/suggestions", params={"customer_id": ana})).json()[
        "items"
    ]
    assert suggestion["identity"] == str(WORK) and suggestion["status"] == "pending"
    assert suggestion["evidence"][0]["kind"] == "thread_reply"
    assert suggestion["evidence"][0]["conversation_id"] == conv["id"]
    # Ana's name is not taken from the unproved sender; her own surfaces skip it.
    assert (await rig.customer(ANA)).name == "Ana Lima"
    transcript = await rig.handoff.links.transcript({"c": conv["id"]}, conv["id"])
    assert "Thanks, from work" not in texts([{"text": e.text} for e in transcript])

    # The agent sees it in place, marked; the next reply goes to Ana's own address.
    async with site.agent("sam@acme.test") as sam:
        page = await sam.client.get(f"/agent/conversations/{conv['id']}")
        assert page.status_code == 200
        assert "Thanks, from work" in page.text
        assert html.escape("not linked to this customer: see the suggestion") in page.text
    r = await rig.api.post(f"/api/v1/conversations/{conv['id']}/reply", json={"text": "Noted"})
    assert r.status_code == 202, r.text
    mails = await site.smtp.wait_for(2)
    assert mails[1]["To"] == "ana@example.com"

    # The agent confirms: one customer with both addresses, the answer hers.
    r = await rig.api.post(f"/api/v1/suggestions/{suggestion['id']}/confirm", json={})
    assert r.status_code == 200, r.text
    assert await site.customer_id(WORK) == ana
    merged = texts(await rig.timeline(ana))
    assert "Refund 31 please" in merged and "Thanks, from work" in merged
    assert len(await site.conversations()) == 1


async def handoff_mail(site: Site, to: str) -> tuple[str, str, str]:
    """A widget visitor asks us to email the conversation to ``to``: (their widget
    token, their conversation id, our mail's Message-ID)."""
    async with widget(site.rig) as browser:
        welcome, _ = await browser.hello()
        await browser.say("c1", "Where is parcel 88? Email me the conversation")
    r = await site.ask("email_transcript", to, welcome["token"])
    assert r.status_code == 202, r.text
    await site.rig.settled(r.json()["event_id"])
    [mail] = await site.smtp.wait_for(1)
    assert mail["To"] == to.removeprefix("email:")
    plain = mail.get_body(("plain",))
    assert plain is not None and "reply OK to this email" in plain.get_content()
    [conv] = await site.conversations()
    return welcome["token"], conv["id"], mail["Message-ID"]


async def test_ok_from_the_address_we_emailed_links_it(site: Site) -> None:
    rig = site.rig
    token, conv_id, ours = await handoff_mail(site, str(WORK))
    await site.mailbox.append(reply_mail("Ana <ana.lima@work.example>", ours, "OK, thank you"))
    await arrived(site, "OK, thank you")
    [conv] = await site.conversations()
    assert conv["id"] == conv_id
    owner = await site.customer_id(WORK)
    assert owner == conv["customer_id"]
    [link] = [e for e in await rig.timeline(owner) if e["kind"] == "link"]
    assert link["meta"]["identity"] == str(WORK)
    # Her own words, in her own widget.
    shown = texts(await site.seen_by(token))
    assert "OK, thank you" in shown and "/c/" not in shown


async def test_a_reply_from_the_address_we_emailed_that_does_not_confirm_waits(
    site: Site,
) -> None:
    rig = site.rig
    token, conv_id, ours = await handoff_mail(site, str(WORK))
    await site.mailbox.append(
        reply_mail("Someone <ana.lima@work.example>", ours, "Who is this? I never asked")
    )
    await arrived(site, "Who is this? I never asked")
    [conv] = await site.conversations()
    assert conv["id"] == conv_id
    assert await rig.hub.store.find_customer(WORK) is None
    [answer] = [
        e for e in await site.events(conv_id) if e["direction"] == "in" and e["channel"] == "email"
    ]
    assert answer["meta"]["unverified_from"] == str(WORK)
    [suggestion] = (
        await rig.api.get("/api/v1/suggestions", params={"customer_id": conv["customer_id"]})
    ).json()["items"]
    assert suggestion["evidence"][0]["kind"] == "handoff_reply"
    shown = texts(await site.seen_by(token))
    assert "Who is this" not in shown
