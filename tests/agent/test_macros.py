"""Macros: the starter set, filling what the hub knows, and refusing untouched ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.agent.macros import fill, hub_values, library, problem, starter
from hub.agent.tone import coach
from hub.errors import ConfigError
from hub.settings import AgentSettings, MacroSetting
from hub.timeline.model import Agent, AgentRole, Customer, Direction, Event, Identity
from hub.timeline.store import TimelineStore
from tests.agent.kit import Running, hub_for_agents

STARTER = {"password_reset", "double_charge", "refund_status", "outage", "closing"}


def test_the_starter_set_covers_the_common_cases_in_an_owning_tone() -> None:
    macros = {m.id: m for m in starter()}
    assert set(macros) == STARTER
    for macro in macros.values():
        assert macro.slots, f"{macro.id} has no personal slot"
        assert coach(macro.text) == [], f"{macro.id} trips the tone coach"
        assert not macro.text.lower().startswith(("we apologise", "i'm so sorry", "unfortunately"))


def test_hub_values_fill_what_it_knows_and_leave_the_rest() -> None:
    customer = Customer(
        id="cus_1", name="Ana Lima", identities=[Identity("email", "ana@example.com")]
    )
    agent = Agent(
        id="agt_1", email="ben@example.com", name="Ben", password_hash="x", role=AgentRole.AGENT
    )
    said = Event(
        id="e1",
        customer_id="cus_1",
        conversation_id=None,
        channel="sms",
        direction=Direction.IN,
        text="order #A-10442 was charged twice",
    )
    values = hub_values(customer, agent, [said])
    assert values == {
        "customer_name": "Ana",
        "agent_name": "Ben",
        "email": "ana@example.com",
        "order": "A-10442",
    }
    double = next(m for m in starter() if m.id == "double_charge")
    text = fill(double.text, values)
    assert text.startswith("Hi Ana, I can see the two charges for order A-10442")
    assert "{{eta}}" in text and "{{check date}}" in text and text.endswith("Ben")


def test_a_macro_is_refused_while_untouched() -> None:
    filled = "Hi Ana, [[personal: a line about their case]] Thanks!"
    assert "placeholders" in (problem("Hi Ana, {{eta}}", "Hi Ana, {{eta}}") or "")
    assert "personal" in (problem(filled, filled) or "")
    assert "personal" in (problem("Hi Ana, personal: a line about their case", filled) or "")
    hinted = "Hi [[a line about their case]]"
    assert "personal" in (problem("Hi Ana, a line about their case Thanks!", hinted) or "")
    plain = "Glad we got this sorted, Ana."
    assert "unchanged" in (problem("Glad  we got this\nsorted, Ana.", plain) or "")
    assert problem("Hi Ana, the new card is on its way. Thanks!", filled) is None
    assert problem("Glad we got this sorted, Ana! Enjoy the trip.", plain) is None


def test_library_adds_team_macros_and_canned_responses() -> None:
    settings = AgentSettings(
        macros=(MacroSetting(title="Chargeback", text="Hi [[x]]", team="billing"),),
        canned={"Greeting": "Hi {{customer_name}}"},
    )
    billing = [m.id for m in library(settings, "billing")]
    assert billing[:5] == [m.id for m in starter()]
    assert billing[5:] == ["team:chargeback", "canned:greeting"]
    assert "team:chargeback" not in [m.id for m in library(settings, "support")]


def test_a_bad_macros_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "macros.toml"
    bad.write_text('[[macro]]\nid = "x"\ntext = "no title"\n')
    with pytest.raises(ConfigError):
        starter(bad)


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    async with hub_for_agents(store, tmp_path) as r:
        yield r


async def test_the_server_refuses_an_untouched_macro_and_records_a_used_one(
    running: Running,
) -> None:
    await running.agent("ben@example.com", name="Ben")
    conv = (await running.push("m-1", text="Where is my refund for order 77120?"))[
        "conversation_id"
    ]
    async with running.signed_in("ben@example.com") as ben:
        page = (await ben.client.get(f"/agent/conversations/{conv}")).text
        assert "for order 77120" in page  # filled from the customer's own message
        url = f"/agent/conversations/{conv}/reply"
        refund = next(m for m in starter() if m.id == "refund_status")
        values = {"customer_name": "Ana", "agent_name": "Ben", "order": "77120"}
        untouched = fill(refund.text, {**values, "refund date": "1 Dec", "eta": "Friday"})
        r = await ben.post(url, {"text": untouched, "macro": "refund_status"})
        assert r.status_code == 422 and r.json()["field"] == "text"
        assert "personal" in r.json()["error"]
        written = untouched.replace(
            "[[personal: answer their specific worry about the refund]]",
            "It went back to the card ending 4242, not to store credit.",
        )
        sent = await ben.post(url, {"text": written, "macro": "refund_status"})
        assert sent.status_code == 202, sent.text
        assert sent.json()["event"]["meta"]["macro"] == "refund_status"
        unknown = await ben.post(url, {"text": "hello", "macro": "nope"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "macro"
