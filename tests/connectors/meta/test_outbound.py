"""Replies through the outbox to the Graph API double; reply windows; receipts."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.responses import JSONResponse, Response

from hub.connectors.base import OutboundMessage
from hub.errors import PermanentError, TransientError
from hub.timeline.model import DeliveryStatus, Direction, Identity
from tests.connectors.meta.conftest import MetaRig
from tests.connectors.meta.kit import (
    APP_ID,
    APP_SECRET,
    IG_ID,
    IG_TOKEN,
    PAGE_ID,
    PAGE_TOKEN,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    VERSION,
    WA_TOKEN,
    delivery,
    echo,
    entry,
    graph_error,
    message,
    messaging,
    read,
    wa_status,
    wa_text,
    wa_value,
    whatsapp,
)

ANA = "6101000000000001"
IG_ANA = "9301000000000001"
WA_ANA = "14155550100"


def now_ms(delta: timedelta = timedelta()) -> int:
    return int((datetime.now(UTC) + delta).timestamp() * 1000)


async def conversation_of(meta: MetaRig, identity: Identity) -> str:
    events = await meta.events(identity)
    assert events[0].conversation_id is not None
    return events[0].conversation_id


async def option(meta: MetaRig, conversation_id: str, channel: str) -> dict[str, Any]:
    r = await meta.api.get(f"/api/v1/conversations/{conversation_id}/reply-options")
    assert r.status_code == 200
    [found] = [o for o in r.json()["items"] if o["channel"] == channel]
    return dict(found)


async def test_messenger_reply_in_the_window_then_delivery_and_read_receipts(
    meta: MetaRig,
) -> None:
    await meta.post(messaging("page", entry(PAGE_ID, message(ANA, "m_1", "Hi", ms=now_ms()))))
    conv = await conversation_of(meta, Identity("messenger", ANA))
    opt = await option(meta, conv, "messenger")
    assert opt["needs"] is None and opt["to"] == f"messenger:{ANA}"

    r = await meta.reply(conv, text="Hello Ana, how can I help?")
    assert r.status_code == 202, r.text
    event_id = r.json()["id"]
    sent = await meta.settled(event_id)
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    assert sent.delivery.provider_id == "m_out1"
    [call] = meta.graph.sent
    assert call.path == f"/{VERSION}/{PAGE_ID}/messages"
    assert call.authorization == f"Bearer {PAGE_TOKEN}"
    assert call.body == {
        "recipient": {"id": ANA},
        "messaging_type": "RESPONSE",
        "message": {"text": "Hello Ana, how can I help?", "metadata": f"omnihub:{event_id}"},
    }

    # Meta echoes our own reply back: it is not stored a second time.
    r = await meta.post(
        messaging("page", entry(PAGE_ID, echo(ANA, "m_out1", "Hello Ana", app_id=APP_ID)))
    )
    assert r.json()["skipped"] == 1
    # Watermarks without mids: everything we sent up to then.
    watermark = now_ms(timedelta(seconds=1))
    await meta.post(messaging("page", entry(PAGE_ID, delivery(ANA, watermark))))
    await meta.reached(event_id, DeliveryStatus.DELIVERED)
    await meta.post(messaging("page", entry(PAGE_ID, read(ANA, watermark=watermark))))
    await meta.reached(event_id, DeliveryStatus.READ)
    # A late delivery receipt never moves it back.
    await meta.post(messaging("page", entry(PAGE_ID, delivery(ANA, watermark, ["m_out1"]))))
    stored = await meta.hub.store.get_event(event_id)
    assert stored.delivery is not None and stored.delivery.status is DeliveryStatus.READ
    events = await meta.events(Identity("messenger", ANA))
    assert [(e.direction, e.text) for e in events] == [
        (Direction.IN, "Hi"),
        (Direction.OUT, "Hello Ana, how can I help?"),
    ]


async def test_watermark_does_not_cover_replies_sent_after_it(meta: MetaRig) -> None:
    await meta.post(messaging("page", entry(PAGE_ID, message(ANA, "m_1", "Hi", ms=now_ms()))))
    conv = await conversation_of(meta, Identity("messenger", ANA))
    before = now_ms(timedelta(seconds=-5))
    first = (await meta.reply(conv, text="one")).json()["id"]
    await meta.settled(first)
    await meta.post(messaging("page", entry(PAGE_ID, read(ANA, watermark=before))))
    await meta.post(messaging("page", entry(PAGE_ID, delivery(ANA, before, ["m_out1"]))))
    await meta.reached(first, DeliveryStatus.DELIVERED)  # named by mid, not by the old watermark
    assert meta.delivery(first) is DeliveryStatus.DELIVERED


async def test_messenger_outside_the_window_needs_a_tag_before_anything_is_queued(
    meta: MetaRig,
) -> None:
    written = now_ms(timedelta(days=-2))
    await meta.post(messaging("page", entry(PAGE_ID, message(ANA, "m_1", "Hi", ms=written))))
    conv = await conversation_of(meta, Identity("messenger", ANA))
    opt = await option(meta, conv, "messenger")
    assert opt["needs"] == "tag"
    closes = datetime.fromisoformat(opt["window_closes_at"])
    assert closes == datetime.fromtimestamp(written / 1000, UTC) + timedelta(hours=24)

    refused = await meta.reply(conv, text="Following up on your order")
    assert refused.status_code == 422 and refused.json()["field"] == "tag"
    assert "closed" in refused.json()["error"]
    assert len(await meta.events(Identity("messenger", ANA))) == 1

    r = await meta.reply(conv, text="Following up on your order", tag="default")
    assert r.status_code == 202, r.text
    await meta.settled(r.json()["id"])
    [call] = meta.graph.sent
    assert call.body["messaging_type"] == "MESSAGE_TAG" and call.body["tag"] == "HUMAN_AGENT"


async def test_instagram_reply_uses_the_instagram_account_and_reads_by_mid(
    meta: MetaRig,
) -> None:
    item = message(IG_ANA, "ig_1", "Price?", account=IG_ID, ms=now_ms())
    await meta.post(messaging("instagram", entry(IG_ID, item)))
    conv = await conversation_of(meta, Identity("instagram", IG_ANA))
    r = await meta.reply(conv, text="It is 20 EUR")
    event_id = r.json()["id"]
    await meta.settled(event_id)
    [call] = meta.graph.sent
    assert call.path == f"/{VERSION}/{IG_ID}/messages"
    assert call.authorization == f"Bearer {IG_TOKEN}"
    assert call.body == {
        "recipient": {"id": IG_ANA},
        "messaging_type": "RESPONSE",
        "message": {"text": "It is 20 EUR"},
    }
    seen = read(IG_ANA, mid="m_out1", account=IG_ID)
    await meta.post(
        messaging(
            "instagram",
            {"id": IG_ID, "time": 1, "changes": [{"field": "messaging_seen", "value": seen}]},
        )
    )
    await meta.reached(event_id, DeliveryStatus.READ)


async def test_whatsapp_reply_in_the_window_and_statuses_in_any_order(meta: MetaRig) -> None:
    ts = int(time.time())
    await meta.post(whatsapp(wa_value(messages=[wa_text(WA_ANA, "wamid.IN1", "Hola", ts=ts)])))
    conv = await conversation_of(meta, Identity("phone", "+" + WA_ANA))
    first = (await meta.reply(conv, text="Hi! Looking into it.")).json()["id"]
    await meta.settled(first)
    [call] = meta.graph.sent
    assert call.path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
    assert call.authorization == f"Bearer {WA_TOKEN}"
    assert call.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ANA,
        "type": "text",
        "text": {"body": "Hi! Looking into it.", "preview_url": False},
    }
    await meta.post(whatsapp(wa_value(statuses=[wa_status("wamid.OUT0001", "read", WA_ANA)])))
    await meta.reached(first, DeliveryStatus.READ)
    await meta.post(whatsapp(wa_value(statuses=[wa_status("wamid.OUT0001", "delivered", WA_ANA)])))

    second = (await meta.reply(conv, text="Found it")).json()["id"]
    await meta.settled(second)
    error = {
        "code": 131026,
        "title": "Message undeliverable",
        "message": "Message undeliverable",
        "error_data": {"details": "Receiver is incapable of receiving this message"},
    }
    r = await meta.post(
        whatsapp(wa_value(statuses=[wa_status("wamid.OUT0002", "failed", WA_ANA, errors=[error])]))
    )
    assert r.json()["receipts"] == 1
    failed = await meta.reached(second, DeliveryStatus.FAILED)
    assert failed.delivery is not None
    assert failed.delivery.error == (
        "131026 Message undeliverable: Receiver is incapable of receiving this message"
    )
    assert meta.delivery(first) is DeliveryStatus.READ
    events = (await meta.api.get(f"/api/v1/conversations/{conv}/events")).json()["items"]
    assert [e["delivery"]["status"] for e in events if e["direction"] == "out"] == [
        "read",
        "failed",
    ]


async def test_whatsapp_outside_the_window_needs_a_template(meta: MetaRig) -> None:
    old = int(time.time()) - 2 * 86_400
    await meta.post(whatsapp(wa_value(messages=[wa_text(WA_ANA, "wamid.IN1", "Hola", ts=old)])))
    conv = await conversation_of(meta, Identity("phone", "+" + WA_ANA))
    assert (await option(meta, conv, "whatsapp"))["needs"] == "template"

    refused = await meta.reply(conv, text="Your order shipped")
    assert refused.status_code == 422 and refused.json()["field"] == "template"
    assert meta.graph.sent == []

    template = {"name": "order_update", "parameters": ["Ana", "1234"]}
    r = await meta.reply(conv, text="Your order shipped", template=template)
    assert r.status_code == 202, r.text
    await meta.settled(r.json()["id"])
    [call] = meta.graph.sent
    assert call.body["type"] == "template" and call.body["to"] == WA_ANA
    assert call.body["template"] == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "1234"}],
            }
        ],
    }


async def test_refused_send_fails_with_metas_reason_and_throttling_is_retried(
    meta: MetaRig,
) -> None:
    await meta.post(messaging("page", entry(PAGE_ID, message(ANA, "m_1", "Hi", ms=now_ms()))))
    conv = await conversation_of(meta, Identity("messenger", ANA))
    meta.graph.script = [
        JSONResponse({"error": {"message": "slow down", "code": 80006}}, 429, {"Retry-After": "0"})
    ]
    retried = (await meta.reply(conv, text="first")).json()["id"]
    sent = await meta.settled(retried)
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    assert sent.delivery.attempts == 2

    meta.graph.script = [
        graph_error(400, 10, "(#10) This message is sent outside of allowed window.", 2018278)
    ]
    refused = (await meta.reply(conv, text="second")).json()["id"]
    failed = await meta.settled(refused)
    assert failed.delivery is not None and failed.delivery.status is DeliveryStatus.FAILED
    assert failed.delivery.attempts == 1
    assert "outside of allowed window" in (failed.delivery.error or "")


def outbound(channel: str, to: Identity, **kw: Any) -> OutboundMessage:
    return OutboundMessage(
        event_id="evt_test",
        channel=channel,
        to=to,
        customer_id="cus_test",
        conversation_id=None,
        text="hello",
        **kw,
    )


@pytest.mark.parametrize(
    ("answer", "error", "retry_after", "reason"),
    [
        (JSONResponse({}, 429, {"Retry-After": "7"}), TransientError, 7.0, "429"),
        (
            graph_error(400, 4, "Application request limit reached"),
            TransientError,
            None,
            "(code 4)",
        ),
        (graph_error(400, 130429, "Rate limit hit"), TransientError, None, "Rate limit hit"),
        (Response("bad gateway", 502), TransientError, None, "502"),
        (graph_error(400, 131047, "Re-engagement message"), PermanentError, None, "131047"),
        (graph_error(400, 100, "Invalid parameter", 2018001), PermanentError, None, "100/2018001"),
    ],
)
async def test_graph_answers_map_to_retry_or_failure(
    meta: MetaRig,
    answer: Response,
    error: type[Exception],
    retry_after: float | None,
    reason: str,
) -> None:
    meta.graph.script = [answer]
    with pytest.raises(error) as caught:
        await meta.connector.send(outbound("whatsapp", Identity("phone", "+" + WA_ANA)))
    assert reason in str(caught.value)
    if isinstance(caught.value, TransientError):
        assert caught.value.retry_after == retry_after


async def test_send_problems_the_agent_can_fix_fail_permanently(meta: MetaRig) -> None:
    with pytest.raises(PermanentError, match="not a message tag"):
        await meta.connector.send(
            outbound("messenger", Identity("messenger", ANA), meta={"tag": "please"})
        )
    with pytest.raises(PermanentError, match="template needs a name"):
        await meta.connector.send(
            outbound("whatsapp", Identity("phone", "+" + WA_ANA), meta={"template": {"x": 1}})
        )
    with pytest.raises(PermanentError, match="does not serve"):
        await meta.connector.send(outbound("sms", Identity("phone", "+" + WA_ANA)))
    assert meta.graph.sent == []


@pytest.mark.parametrize(
    "meta_overrides", [{"pages": {PAGE_ID: PAGE_TOKEN, "1000000000000002": "other-token"}}]
)
async def test_several_pages_reply_from_the_page_the_customer_wrote_to(meta: MetaRig) -> None:
    with pytest.raises(PermanentError, match="several messenger accounts"):
        await meta.connector.send(outbound("messenger", Identity("messenger", ANA)))
    await meta.post(messaging("page", entry(PAGE_ID, message(ANA, "m_1", "Hi", ms=now_ms()))))
    result = await meta.connector.send(outbound("messenger", Identity("messenger", ANA)))
    assert result.provider_id == "m_out1"
    assert meta.graph.sent[0].path == f"/{VERSION}/{PAGE_ID}/messages"


async def test_secrets_never_reach_logs_or_repr(
    meta: MetaRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await meta.post(messaging("page", entry(PAGE_ID, message(ANA, "m_1", "Hi", ms=now_ms()))))
    await meta.post(b"{}", secret="wrong-secret-0000000")
    conv = await conversation_of(meta, Identity("messenger", ANA))
    await meta.settled((await meta.reply(conv, text="hello")).json()["id"])
    secrets = (APP_SECRET, VERIFY_TOKEN, PAGE_TOKEN, IG_TOKEN, WA_TOKEN)
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in repr(meta.connector)


async def test_a_whatsapp_reply_with_an_image_uploads_it_then_sends_it_with_the_caption(
    meta: MetaRig,
) -> None:
    await meta.post(
        whatsapp(
            wa_value(
                messages=[
                    wa_text(WA_ANA, "wamid.IN1", "Photo of the label?", ts=int(now_ms() / 1000))
                ]
            )
        )
    )
    conv = await conversation_of(meta, Identity("phone", "+" + WA_ANA))
    r = await meta.api.post(
        f"/api/v1/conversations/{conv}/reply",
        data={"text": "This one", "channel": "whatsapp"},
        files=[("files", ("label.png", b"\x89PNG-label", "image/png"))],
    )
    assert r.status_code == 202, r.text
    sent = await meta.settled(r.json()["id"])
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    [upload] = meta.graph.uploads
    assert upload["file"]["data"] == b"\x89PNG-label" and upload["type"] == "image/png"
    [call] = meta.graph.sent
    assert call.path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
    assert call.body["type"] == "image"
    assert call.body["image"] == {"id": "MEDIA0001", "caption": "This one"}


async def test_a_messenger_reply_with_a_file_sends_the_text_then_the_upload(meta: MetaRig) -> None:
    await meta.post(
        messaging("page", entry(PAGE_ID, message(ANA, "m_in", "Invoice?", ms=now_ms())))
    )
    conv = await conversation_of(meta, Identity("messenger", ANA))
    r = await meta.api.post(
        f"/api/v1/conversations/{conv}/reply",
        data={"text": "Attached", "channel": "messenger"},
        files=[("files", ("invoice.pdf", b"%PDF-1.7", "application/pdf"))],
    )
    assert r.status_code == 202, r.text
    sent = await meta.settled(r.json()["id"])
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    text, upload = meta.graph.sent
    assert text.body["message"]["text"] == "Attached"
    assert upload.body["message"]["attachment"]["type"] == "file"
    assert upload.body["filedata"]["data"] == b"%PDF-1.7"
    assert upload.body["recipient"] == {"id": ANA}
