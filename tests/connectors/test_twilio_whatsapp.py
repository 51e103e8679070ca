"""WhatsApp through Twilio: ``whatsapp:+…`` senders are the ``whatsapp`` channel (not
SMS), answered through Twilio's WhatsApp; one WhatsApp provider per hub."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import Hub, build_app
from hub.errors import ConfigError
from hub.settings import OutboxSettings, Settings
from hub.timeline.content import Location, Reply
from hub.timeline.model import DeliveryStatus, Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.connectors.meta.conftest import meta_settings
from tests.connectors.test_twilio import Rig, twilio_settings
from tests.connectors.twilio_kit import (
    ACCOUNT_SID,
    AGENT,
    CUSTOMER,
    OUR_NUMBER,
    PUBLIC,
    RestDouble,
    TwilioSide,
)
from tests.servers import serve

PHONE = Identity("phone", CUSTOMER)
PAYLOADS = Path(__file__).parent / "payloads" / "twilio"


def case(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    values = {"OUR": OUR_NUMBER, "CUSTOMER": CUSTOMER, "WAID": CUSTOMER[1:], "ACCOUNT": ACCOUNT_SID}
    found["params"] = {k: v.format(**values) for k, v in found["params"].items()}
    return found


def settings(tmp_path: Path, rest_url: str, *, whatsapp: bool = True, **extra: Any) -> Settings:
    number = {"number": OUR_NUMBER, "agents": [AGENT], "whatsapp": whatsapp}
    return Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        public_url=PUBLIC,
        outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
        connectors={"twilio": twilio_settings(rest_url, numbers=[number]), **extra},
    )


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Rig]:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        app = build_app(settings(tmp_path, rest_url), store=store)
        hub: Hub = app.state.hub
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            _, token = await issue_token(store, "tests")
            api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
            side = Rig(hub, api, TwilioSide(url, client), rest, rest_url)
            async with api, side.watching():
                yield side


async def test_a_twilio_whatsapp_message_is_whatsapp_and_the_reply_goes_back_on_whatsapp(
    rig: Rig,
) -> None:
    text = case("whatsapp_text")
    for _ in range(2):
        r = await rig.twilio.post("/sms", text["params"])
        assert r.status_code == 200
    [event] = await rig.events()
    assert event.channel == "whatsapp" and event.text == "אישור הגעה"
    customer = await rig.hub.store.get_customer(event.customer_id)
    assert customer.name == "Eyal"
    assert event.conversation_id is not None

    sent = await rig.reply(event.conversation_id, "We'll see you there", channel="whatsapp")
    await rig.rest.wait(lambda: rig.rest.messages)
    [out] = rig.rest.messages
    assert out["To"] == f"whatsapp:{CUSTOMER}" and out["From"] == f"whatsapp:{OUR_NUMBER}"
    done = await rig.settled(sent["id"])
    assert done.delivery is not None and done.delivery.status is DeliveryStatus.SENT
    status = {
        "MessageSid": done.delivery.provider_id or "",
        "MessageStatus": "delivered",
        "To": f"whatsapp:{CUSTOMER}",
        "From": f"whatsapp:{OUR_NUMBER}",
        "AccountSid": ACCOUNT_SID,
    }
    assert (await rig.twilio.post("/sms/status", status)).status_code == 204
    await rig.reached(sent["id"], DeliveryStatus.DELIVERED)


async def test_twilio_whatsapp_locations_and_buttons_are_typed(rig: Rig) -> None:
    for name in ("whatsapp_location", "whatsapp_button"):
        assert (await rig.twilio.post("/sms", case(name)["params"])).status_code == 200
    place, button = await rig.events()
    assert place.content == Location(
        52.516275, 13.377704, name="Brandenburger Tor", address="Pariser Platz, 10117 Berlin"
    )
    assert button.content == Reply("button", title="Yes, reschedule", payload="resched-yes")


async def test_whatsapp_to_a_number_not_marked_for_it_is_refused_not_filed_as_sms(
    store: TimelineStore, tmp_path: Path
) -> None:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        app = build_app(settings(tmp_path, rest_url, whatsapp=False), store=store)
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            r = await TwilioSide(url, client).post("/sms", case("whatsapp_text")["params"])
            assert r.status_code == 404
            assert await app.state.hub.store.find_customer(PHONE) is None


def test_whatsapp_through_both_meta_and_twilio_is_a_configuration_error(tmp_path: Path) -> None:
    both = settings(tmp_path, "http://127.0.0.1:9", meta=meta_settings("http://127.0.0.1:9"))
    with pytest.raises(ConfigError, match="'whatsapp' is served by both"):
        build_app(both)


# -- senders that are not phone numbers; national formats ------------------------------
@pytest.mark.parametrize(
    ("sender", "identity"),
    [("ACME Bank", Identity("sender", "ACME Bank")), ("54321", Identity("shortcode", "54321"))],
)
async def test_alphanumeric_senders_and_short_codes_are_stored_by_default(
    rig: Rig, sender: str, identity: Identity
) -> None:
    r = await rig.twilio.sms("SM-alpha", "Your code is 1234", sender=sender)
    assert r.status_code == 200
    [event] = await rig.events(identity)
    assert event.channel == "sms" and event.text == "Your code is 1234"


async def test_other_senders_can_be_refused_and_national_numbers_use_the_default_region(
    store: TimelineStore, tmp_path: Path
) -> None:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        base = settings(tmp_path, rest_url)
        twilio = {**base.connectors["twilio"], "other_senders": "refuse"}
        configured = base.model_copy(
            update={"connectors": {"twilio": twilio}, "default_region": "DE"}
        )
        app = build_app(configured, store=store)
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            side = TwilioSide(url, client)
            r = await side.sms("SM-alpha", "Your code is 1234", sender="ACME Bank")
            assert r.status_code == 422 and "From" in r.text
            r = await side.sms("SM-national", "Hallo", sender="030 1234567")
            assert r.status_code == 200
            hub: Hub = app.state.hub
            assert await hub.store.find_customer(Identity("phone", "+49301234567")) is not None
