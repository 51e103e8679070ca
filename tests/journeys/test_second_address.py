"""An email from a second address answering our message (In-Reply-To): the agent
sees a suggestion on the customer whose conversation it answers; nothing links
until the agent confirms (a thread can be forwarded to anyone), and then both
addresses are one customer."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from hub.timeline.model import Identity, utcnow
from tests.connectors.email.rig import first_mail
from tests.journeys.conftest import Site, texts

ANA = Identity("email", "ana@example.com")
WORK = Identity("email", "ana.lima@work.example")


def reply_mail(sender: str, in_reply_to: str, text: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Omnihub Support <support@example.org>"
    msg["Subject"] = "Re: Refund"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = "<work-1@work.example>"
    msg["In-Reply-To"] = in_reply_to
    msg["References"] = in_reply_to
    msg.set_content(text)
    # Our Message-IDs are long: do not fold them (as mail clients do not).
    return msg.as_bytes(policy=policy.default.clone(max_line_length=998))


async def test_a_reply_from_a_second_address_is_suggested_in_place(site: Site) -> None:
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
    await rig.until(
        lambda: any(e.text == "Thanks, from work" for e in rig.latest.values() if e.text)
    )
    work = await site.customer_id(WORK)
    assert work != ana
    [suggestion] = (await rig.api.get("/api/v1/suggestions", params={"customer_id": ana})).json()[
        "items"
    ]
    assert suggestion["identity"] == str(WORK) and suggestion["status"] == "pending"
    assert suggestion["evidence"][0]["kind"] == "thread_reply"
    assert suggestion["evidence"][0]["conversation_id"] == conv["id"]
    assert "Thanks, from work" not in texts(await site.events(conv["id"]))
    # The agent confirms: one customer with both addresses and both threads.
    r = await rig.api.post(f"/api/v1/suggestions/{suggestion['id']}/confirm", json={})
    assert r.status_code == 200, r.text
    assert await site.customer_id(WORK) == await site.customer_id(ANA)
    merged = texts(await rig.timeline(await site.customer_id(ANA)))
    assert "Refund 31 please" in merged and "Thanks, from work" in merged
