"""Voice that routes: an IVR menu per number (``<Gather>``, at most 3 levels, 0 for an
agent), driven by Twilio's signed ``Digits`` callbacks; the choice is on the call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from hub.app import Hub, build_app
from hub.connectors.twilio.settings import TwilioNumber
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.connectors.test_twilio import Rig, twilio_settings
from tests.connectors.twilio_kit import (
    AGENT,
    CUSTOMER,
    OUR_NUMBER,
    PUBLIC,
    RestDouble,
    TwilioSide,
    parse_twiml,
    verbs,
)
from tests.servers import serve

BILLING_DESK = "+15005550111"
MENU: dict[str, Any] = {
    "prompt": "Thanks for calling Acme.",
    "options": {
        "1": {"label": "Orders"},
        "2": {
            "label": "Billing",
            "menu": {
                "prompt": "Billing.",
                "options": {"1": {"label": "Refunds", "agents": [BILLING_DESK]}},
            },
        },
    },
}


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Rig]:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        number = {"number": OUR_NUMBER, "agents": [AGENT], "menu": MENU}
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            public_url=PUBLIC,
            outbox=OutboxSettings(poll_interval=0.05),
            connectors={"twilio": twilio_settings(rest_url, numbers=[number])},
        )
        app = build_app(settings, store=store)
        hub: Hub = app.state.hub
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            _, token = await issue_token(store, "tests")
            api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
            side = Rig(hub, api, TwilioSide(url, client), rest, rest_url)
            async with api, side.watching():
                yield side


def gather_action(twiml: str) -> str:
    root = parse_twiml(twiml)
    assert verbs(root) == ["Gather", "Redirect"], twiml
    action = root[0].get("action") or ""
    assert root[0].get("numDigits") == "1"
    return action


async def test_two_levels_of_keys_reach_the_option_s_desk_and_the_choice_is_on_the_call(
    rig: Rig,
) -> None:
    r = await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))
    assert r.status_code == 200
    said = parse_twiml(r.text)[0][0].text or ""
    assert "For Billing, press 2." in said and "press 0" in said
    action = gather_action(r.text)
    r = await rig.twilio.post(action, rig.twilio.call_params("CA1", "in-progress", Digits="2"))
    assert "For Refunds, press 1." in (parse_twiml(r.text)[0][0].text or "")
    action = gather_action(r.text)
    r = await rig.twilio.post(action, rig.twilio.call_params("CA1", "in-progress", Digits="1"))
    root = parse_twiml(r.text)
    assert verbs(root) == ["Say", "Dial"]
    assert [n.text for n in root[1]] == [BILLING_DESK]
    menu = [e for e in await rig.events() if e.meta.get("status") == "menu"]
    assert [(e.text, e.meta["ivr"], e.meta["ivr_keys"]) for e in menu] == [
        ("Menu: Billing > Refunds", ["Billing", "Refunds"], "21")
    ]


async def test_zero_or_silence_reaches_an_agent_and_a_wrong_key_asks_again(rig: Rig) -> None:
    r = await rig.twilio.post("/voice", rig.twilio.call_params("CA2", "ringing"))
    action = gather_action(r.text)
    r = await rig.twilio.post(action, rig.twilio.call_params("CA2", "in-progress", Digits="7"))
    assert "not an option" in (parse_twiml(r.text)[0][0].text or "")
    silence = parse_twiml(r.text)[1].text or ""
    assert silence.endswith("Digits=0")
    r = await rig.twilio.post(silence, rig.twilio.call_params("CA2", "in-progress"))
    root = parse_twiml(r.text)
    assert verbs(root) == ["Say", "Dial"] and [n.text for n in root[1]] == [AGENT]
    [menu] = [e for e in await rig.events() if e.meta.get("status") == "menu"]
    assert menu.meta["ivr"] == ["an agent"] and menu.meta["ivr_keys"] == "0"
    assert menu.identity == Identity("phone", CUSTOMER)


def test_a_menu_deeper_than_three_levels_or_with_key_zero_is_refused() -> None:
    leaf: dict[str, Any] = {"prompt": "p", "options": {"1": {"label": "x"}}}
    for _ in range(3):
        leaf = {"prompt": "p", "options": {"1": {"label": "x", "menu": leaf}}}
    with pytest.raises(ValidationError, match="at most 3 levels"):
        TwilioNumber(number=OUR_NUMBER, menu=leaf)
    with pytest.raises(ValidationError, match="digits 1-9"):
        TwilioNumber(number=OUR_NUMBER, menu={"prompt": "p", "options": {"0": {"label": "x"}}})
