"""Journey 2: an email → the customer opens the continuation link → chats in the widget.

Mail goes through real servers (Dovecot IMAP in, aiosmtpd out). The link opens
the conversation with the email thread; the widget continues it; a browser
without the link sees nothing.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from hub.connectors.email import EmailConnector
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import Mailbox, SmtpSink
from tests.connectors.email.rig import SECRET, first_mail
from tests.handoff.conftest import CHAT, PUBLIC, running_hub, widget

ANA = Identity("email", "ana@example.com")
LINK = re.compile(re.escape(PUBLIC) + r"/c/[A-Za-z0-9_.\-]+")


async def test_email_then_link_then_chat_in_the_widget(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    email = {"secret": SECRET, "accounts": [mailbox.account(**smtp_sink.account())]}
    async with running_hub(store, tmp_path, {"chat": CHAT, "email": email}) as rig:
        connector = rig.hub.connectors["email"]
        assert isinstance(connector, EmailConnector)
        async with asyncio.timeout(10):
            await connector.watchers[0].idling.wait()
        await mailbox.append(
            first_mail(
                "Ana Lima <ana@example.com>",
                "Where is my order?",
                "<j2-1@c.example>",
                "Order 1234 was due Monday and hasn't arrived.",
            )
        )
        await rig.until(lambda: any(e.channel == "email" for e in rig.latest.values()))
        customer = await rig.customer(ANA)
        [mail] = [e for e in rig.latest.values() if e.channel == "email"]
        conv = mail.conversation_id

        # The agent emails her the conversation with a link to continue in chat.
        r = await rig.api.post(
            f"/api/v1/conversations/{conv}/handoff/email_transcript", json={"to": str(ANA)}
        )
        assert r.status_code == 202, r.text
        [sent] = await smtp_sink.wait_for(1)
        body = sent.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "Order 1234 was due Monday" in text
        [url] = LINK.findall(text)

        # She opens it: asked first, then the page restores the email thread.
        path = rig.local(url)
        assert (await rig.client.get(path)).status_code == 200
        page = await rig.open_link(path)
        assert page.status_code == 200
        assert "Order 1234 was due Monday" in page.text
        token = re.search(r'data-visitor-token="([^"]+)"', page.text)
        assert token is not None
        assert f'["omnihub:default:token", "{token.group(1)}"]' in page.text  # the widget's key
        cookie = {"Cookie": f"omnihub_handoff={page.cookies['omnihub_handoff']}"}
        thread = (await rig.client.get("/handoff/session", headers=cookie)).json()
        assert [(i["channel"], i["direction"]) for i in thread["items"]] == [
            ("email", "in"),
            ("email", "out"),
        ]

        # The widget in her browser continues the same conversation.
        async with widget(rig) as browser:
            welcome, history = await browser.hello(token.group(1))
            assert welcome["identified"] is True
            # …and shows her the email thread she is continuing.
            assert [(e["channel"], e["direction"]) for e in history["events"]] == [
                ("email", "in"),
                ("email", "out"),
            ]
            assert "Order 1234 was due Monday" in history["events"][0]["text"]
            await browser.say("c1", "Hi, following up from the email")
        events = (await rig.api.get(f"/api/v1/conversations/{conv}/events")).json()["items"]
        assert [(e["channel"], e["kind"], e["direction"]) for e in events] == [
            ("email", "message", "in"),
            ("email", "message", "out"),
            ("hub", "handoff", "internal"),
            ("chat", "message", "in"),
        ]
        assert events[2]["meta"]["via"] == "link"
        assert events[2]["meta"]["card"]["from_channel"] == "email"
        assert (await rig.customer(Identity("chat", welcome["visitor"]))).id == customer.id

        # Another browser, without the link, sees nothing of hers.
        async with widget(rig) as stranger:
            welcome, history = await stranger.hello()
            assert welcome["identified"] is False and history["events"] == []
            assert welcome["visitor"] != token.group(1)
        nobody = await rig.client.get("/handoff/session")
        assert nobody.status_code == 401 and "Order 1234" not in nobody.text
        guessed = await rig.client.get(f"/handoff/session/conversations/{conv}")
        assert guessed.status_code == 401 and "Order 1234" not in guessed.text
