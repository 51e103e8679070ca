"""WhatsApp Cloud webhooks: messages, media by id with the bearer token, statuses, bad items."""

from __future__ import annotations

import logging

import pytest

from hub.timeline.content import Location, Unsupported
from hub.timeline.model import Identity
from tests.connectors.meta.conftest import MetaRig
from tests.connectors.meta.kit import (
    PAGE_ID,
    WA_TOKEN,
    entry,
    message,
    messaging,
    wa_media,
    wa_status,
    wa_text,
    wa_value,
    whatsapp,
)

ANA = "14155550100"
PHONE = Identity("phone", "+14155550100")


async def test_text_message_is_a_phone_customer_with_the_profile_name(meta: MetaRig) -> None:
    payload = whatsapp(
        wa_value(
            contacts=((ANA, "Ana García"),),
            messages=[
                wa_text(ANA, "wamid.HBgLMTQxNTU1NTAxMDAVAgASGBQzQTdF", "¿Dónde está mi pedido?")
            ],
        )
    )
    r = await meta.post(payload)
    assert r.status_code == 200 and r.json()["stored"] == 1
    [event] = await meta.events(PHONE)
    assert event.channel == "whatsapp" and event.text == "¿Dónde está mi pedido?"
    assert event.identity == PHONE
    assert event.occurred_at.timestamp() == 1749416383
    customer = await meta.hub.store.find_customer(PHONE)
    assert customer is not None and customer.name == "Ana García"


async def test_media_is_fetched_by_id_with_the_bearer_token(meta: MetaRig) -> None:
    meta.graph.media["1001"] = (b"\x89PNG picture", "image/png")
    meta.graph.media["1002"] = (b"%PDF-1.7 invoice", "application/pdf")
    payload = whatsapp(
        wa_value(
            messages=[
                wa_media(
                    ANA, "wamid.IMG", "image", "1001", mime_type="image/png", caption="Broken"
                ),
                wa_media(
                    ANA,
                    "wamid.DOC",
                    "document",
                    "1002",
                    mime_type="application/pdf",
                    filename="invoice-1234.pdf",
                ),
                wa_media(ANA, "wamid.AUD", "audio", "1003", mime_type="audio/ogg"),
            ]
        )
    )
    r = await meta.post(payload)
    assert r.status_code == 200 and r.json()["stored"] == 3
    image, document, audio = await meta.events(PHONE)
    assert image.text == "Broken"
    [picture] = image.attachments
    assert (picture.filename, picture.content_type) == ("image.png", "image/png")
    assert await meta.hub.blobs.get(picture.blob_id) == b"\x89PNG picture"
    [pdf] = document.attachments
    assert pdf.filename == "invoice-1234.pdf" and pdf.size == len(b"%PDF-1.7 invoice")
    assert {auth for _, auth in meta.graph.downloads} == {f"Bearer {WA_TOKEN}"}
    # The audio's id is unknown to Meta: the message is kept with the reason.
    assert audio.attachments == []
    [problem] = audio.meta["attachment_errors"]
    assert problem["type"] == "audio" and "Unsupported get request" in problem["error"]


async def test_a_non_phone_whatsapp_id_gets_its_own_identity_kind(meta: MetaRig) -> None:
    r = await meta.post(
        whatsapp(wa_value(messages=[wa_text("US.13491208655302741918", "w1", "hi")]))
    )
    assert r.json()["stored"] == 1
    [event] = await meta.events(Identity("whatsapp", "US.13491208655302741918"))
    assert event.channel == "whatsapp"


async def test_batch_with_unknown_fields_and_bad_items_stores_the_good_ones(
    meta: MetaRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.connectors.meta")
    no_id = wa_text(ANA, "x", "lost")
    del no_id["id"]
    location = {
        "from": ANA,
        "id": "wamid.LOC",
        "timestamp": "1749416384",
        "type": "location",
        "location": {"latitude": 40.4, "longitude": -3.7, "name": "Shop"},
    }
    payload = whatsapp(
        {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}},
        wa_value(messages=[no_id, wa_text(ANA, "wamid.OK", "kept"), location]),
        wa_value(statuses=[wa_status("wamid.NOT_OURS", "delivered", ANA)]),
    )
    r = await meta.post(payload)
    assert r.status_code == 200
    assert r.json()["stored"] == 2 and r.json()["skipped"] == 2
    kept, place = await meta.events(PHONE)
    assert kept.text == "kept"
    assert place.text is None
    assert place.content == Location(40.4, -3.7, name="Shop")
    assert "'account_update' is not handled" in caplog.text
    assert "id is missing" in caplog.text


async def test_replayed_webhook_is_one_event_and_media_is_fetched_once(meta: MetaRig) -> None:
    meta.graph.media["1001"] = (b"jpeg", "image/jpeg")
    payload = whatsapp(
        wa_value(messages=[wa_media(ANA, "wamid.IMG", "image", "1001", mime_type="image/jpeg")])
    )
    for _ in range(3):
        assert (await meta.post(payload)).status_code == 200
    [event] = await meta.events(PHONE)
    assert len(event.attachments) == 1
    assert [what for what, _ in meta.graph.downloads] == ["info:1001", "file:1001"]


async def test_hostile_items_are_skipped_and_never_fail_the_rest_of_the_batch(
    meta: MetaRig,
) -> None:
    object_status = wa_status("wamid.OBJ", "delivered", ANA)
    object_status["status"] = {"name": "delivered"}
    far_future = wa_text(ANA, "wamid.FUTURE", "from year 9999", ts=253402300799)
    dotted = wa_media(ANA, "wamid.LOC", "location", "x")
    dotted["location"] = {"latitude": 1, "name": {"a.b": 1}}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": {"field": "messages"}},
            {"id": "2", "changes": 7},
            {
                "id": "3",
                "changes": [
                    {"field": "messages", "value": {"messages": 5, "statuses": "x"}},
                    wa_value(statuses=[object_status]),
                    wa_value(messages=[far_future, dotted, wa_text(ANA, "wamid.OK", "kept")]),
                ],
            },
        ],
    }
    for _ in range(2):  # a retry answers the same: nothing for Meta to retry for ever
        r = await meta.post(payload)
        assert r.status_code == 200, r.text
        assert r.json()["failed"] == 0
    events = {e.external_id: e for e in await meta.events(PHONE)}
    assert events["wamid.OK"].text == "kept"
    assert events["wamid.FUTURE"].occurred_at.year < 9999  # stored on the hub's clock
    assert isinstance(events["wamid.LOC"].content, Unsupported)
    kept = events["wamid.OK"]
    timeline = await meta.api.get(f"/api/v1/customers/{kept.customer_id}/timeline")
    assert timeline.status_code == 200


async def test_messenger_entry_with_changes_not_a_list_keeps_its_messages(
    meta: MetaRig,
) -> None:
    good = entry(PAGE_ID, message("PSID-ANA", "m_ok", "kept"))
    good["changes"] = 7
    r = await meta.post(messaging("page", good, {"id": PAGE_ID, "messaging": 3}))
    assert r.status_code == 200 and r.json()["failed"] == 0
    [kept] = await meta.events(Identity("messenger", "PSID-ANA"))
    assert kept.text == "kept"
