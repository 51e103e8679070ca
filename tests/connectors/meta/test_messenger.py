"""Messenger and Instagram webhooks: signed batches in Meta's shapes land on timelines."""

from __future__ import annotations

import json
import logging

import pytest

from hub.timeline.model import Direction, Identity
from tests.connectors.meta.conftest import MetaRig
from tests.connectors.meta.kit import (
    APP_ID,
    IG_ID,
    OTHER_APP_ID,
    PAGE_ID,
    VERIFY_TOKEN,
    echo,
    entry,
    message,
    messaging,
)

ANA = "6101000000000001"
BEN = "6101000000000002"
IG_ANA = "9301000000000001"


async def test_subscription_check_echoes_the_challenge_only_with_the_verify_token(
    meta: MetaRig,
) -> None:
    ok = await meta.client.get(
        "/connectors/meta/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"},
    )
    assert ok.status_code == 200 and ok.text == "1158"
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"},
        {"hub.challenge": "1158"},
    ):
        refused = await meta.client.get("/connectors/meta/webhook", params=params)
        assert refused.status_code == 403 and "1158" not in refused.text


async def test_batch_of_entries_and_items_lands_on_each_customers_timeline(meta: MetaRig) -> None:
    photo = b"\xff\xd8\xff\xe0 a tiny jpeg"
    meta.graph.cdn["photo.jpg"] = (photo, "image/jpeg")
    url = f"{meta.graph_url}/cdn/photo.jpg"
    payload = messaging(
        "page",
        entry(
            PAGE_ID,
            message(ANA, "m_1", "Hi, my order is late"),
            message(BEN, "m_2", attachments=[{"type": "image", "payload": {"url": url}}]),
            echo(ANA, "m_3", "Sorry Ana, checking now", app_id=OTHER_APP_ID),
            echo(ANA, "m_4", "sent by the hub itself", app_id=APP_ID),
        ),
        entry(PAGE_ID, message(ANA, "m_5", "Order 1234", ms=1749416384000), standby=True),
    )
    r = await meta.post(payload)
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 4 and r.json()["skipped"] == 1

    ana = await meta.events(Identity("messenger", ANA))
    assert [(e.direction, e.text) for e in ana] == [
        (Direction.IN, "Hi, my order is late"),
        (Direction.OUT, "Sorry Ana, checking now"),
        (Direction.IN, "Order 1234"),
    ]
    assert len({e.conversation_id for e in ana}) == 1
    assert ana[0].occurred_at.timestamp() == 1749416383.0
    [ben] = await meta.events(Identity("messenger", BEN))
    [attachment] = ben.attachments
    assert attachment.content_type == "image/jpeg" and attachment.filename == "photo.jpg"
    assert await meta.hub.blobs.get(attachment.blob_id) == photo
    assert ("cdn:photo.jpg", None) in meta.graph.downloads  # no token sent to the CDN


@pytest.mark.parametrize("how", ["tampered-body", "wrong-secret", "missing", "not-hex"])
async def test_bad_signature_is_403_and_stores_nothing(meta: MetaRig, how: str) -> None:
    payload = messaging("page", entry(PAGE_ID, message(ANA, "m_1", "Hi")))
    if how == "tampered-body":
        forged = messaging("page", entry(PAGE_ID, message(ANA, "m_1", "Send me a refund")))
        r = await meta.post(payload, sent=json.dumps(forged).encode())
    elif how == "wrong-secret":
        r = await meta.post(payload, secret="not-the-app-secret-000")
    elif how == "missing":
        r = await meta.post(payload, sign="")
    else:
        r = await meta.post(payload, sign="sha256=zz")
    assert r.status_code == 403
    assert await meta.hub.store.find_customer(Identity("messenger", ANA)) is None


async def test_malformed_json_is_400_and_stores_nothing(meta: MetaRig) -> None:
    r = await meta.post(b'{"object": "page", "entry": [')
    assert r.status_code == 400
    r = await meta.post(b"[1, 2]")
    assert r.status_code == 400


async def test_unknown_objects_and_fields_are_acknowledged_and_logged(
    meta: MetaRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.connectors.meta")
    r = await meta.post({"object": "permissions", "entry": [{"id": "1", "changes": []}]})
    assert r.status_code == 200
    optin = {
        "sender": {"id": ANA},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1749416383000,
        "optin": {"ref": "newsletter"},
    }
    feed = {"id": PAGE_ID, "time": 1, "changes": [{"field": "feed", "value": {"item": "post"}}]}
    r = await meta.post(messaging("page", entry(PAGE_ID, optin), feed))
    assert r.status_code == 200 and r.json()["skipped"] == 2
    assert "'permissions'" in caplog.text
    assert "['optin']" in caplog.text and "'feed'" in caplog.text
    assert await meta.hub.store.find_customer(Identity("messenger", ANA)) is None


async def test_one_bad_item_does_not_spoil_the_batch(
    meta: MetaRig, caplog: pytest.LogCaptureFixture
) -> None:
    no_mid = message(ANA, "m_x", "lost")
    del no_mid["message"]["mid"]
    no_sender = message(BEN, "m_y", "who am I")
    del no_sender["sender"]
    payload = messaging(
        "page",
        entry(PAGE_ID, no_mid, message(ANA, "m_ok", "kept"), no_sender, "not an item"),  # type: ignore[arg-type]
        "not an entry",  # type: ignore[arg-type]
        entry(PAGE_ID, message(BEN, "m_bad", "bad time", ms="soon")),  # type: ignore[arg-type]
    )
    r = await meta.post(payload)
    assert r.status_code == 200
    assert r.json()["stored"] == 2 and r.json()["skipped"] == 4
    [kept] = await meta.events(Identity("messenger", ANA))
    assert kept.text == "kept"
    [late] = await meta.events(Identity("messenger", BEN))  # an unusable time is not a loss
    assert late.text == "bad time" and late.occurred_at.year >= 2026
    assert "message.mid is missing" in caplog.text and "sender.id is missing" in caplog.text


async def test_replayed_batch_is_idempotent(meta: MetaRig) -> None:
    meta.graph.cdn["a.png"] = (b"png bytes", "image/png")
    url = f"{meta.graph_url}/cdn/a.png"
    payload = messaging(
        "page",
        entry(
            PAGE_ID,
            message(ANA, "m_1", "Hi"),
            message(ANA, "m_2", attachments=[{"type": "image", "payload": {"url": url}}]),
        ),
    )
    first = await meta.post(payload)
    again = await meta.post(payload)
    assert first.json()["stored"] == 2
    assert again.status_code == 200 and again.json() == {**again.json(), "stored": 0}
    assert again.json()["duplicates"] == 2
    events = await meta.events(Identity("messenger", ANA))
    assert [e.external_id for e in events] == ["m_1", "m_2"]
    assert [d for d, _ in meta.graph.downloads] == ["cdn:a.png"]  # fetched once


async def test_failed_attachment_fetch_keeps_the_message_and_records_why(meta: MetaRig) -> None:
    url = f"{meta.graph_url}/cdn/expired.mp4"
    item = message(
        ANA, "m_1", "see video", attachments=[{"type": "video", "payload": {"url": url}}]
    )
    r = await meta.post(messaging("page", entry(PAGE_ID, item)))
    assert r.status_code == 200
    [event] = await meta.events(Identity("messenger", ANA))
    assert event.text == "see video" and event.attachments == []
    assert event.meta["attachment_errors"] == [
        {"type": "video", "error": "media server answered 404"}
    ]


async def test_instagram_messages_echoes_and_change_style_items(meta: MetaRig) -> None:
    payload = messaging(
        "instagram",
        entry(
            IG_ID,
            message(IG_ANA, "ig_1", "Do you ship to Spain?", account=IG_ID),
            echo(IG_ANA, "ig_2", "Yes we do!", app_id=OTHER_APP_ID, account=IG_ID),
        ),
        {
            "id": IG_ID,
            "time": 1749416390,
            "changes": [
                {
                    "field": "messages",
                    "value": message(IG_ANA, "ig_3", "Great, thanks", account=IG_ID),
                }
            ],
        },
    )
    r = await meta.post(payload)
    assert r.status_code == 200 and r.json()["stored"] == 3
    events = await meta.events(Identity("instagram", IG_ANA))
    assert [(e.channel, e.direction, e.text) for e in events] == [
        ("instagram", Direction.IN, "Do you ship to Spain?"),
        ("instagram", Direction.OUT, "Yes we do!"),
        ("instagram", Direction.IN, "Great, thanks"),
    ]
