"""The hub is not a free relay (issue 15, item 1): a visitor's own sends to
addresses nobody verified are budgeted per visitor, per destination and per hub,
SMS and calls only to allowed countries, calls need an agent; refusals are shown to
the visitor, noted for the agent and counted. A verified number is never budgeted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import Mailbox, SmtpSink
from tests.connectors.twilio_kit import CUSTOMER
from tests.journeys.conftest import Site, journey_site, widget


@pytest.fixture
async def budgeted(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> AsyncIterator[Site]:
    relay = {"per_visitor": 2, "per_destination": 1, "per_hub": 3, "countries": ["US"]}
    async with journey_site(store, tmp_path, mailbox, smtp_sink, relay=relay) as site:
        yield site


async def visitor(site: Site, text: str) -> tuple[str, str]:
    async with widget(site.rig) as browser:
        welcome, _ = await browser.hello()
        await browser.say("c1", text)
    return str(welcome["token"]), str(welcome["visitor"])


async def test_sends_to_unverified_addresses_are_budgeted_and_refusals_shown(
    budgeted: Site,
) -> None:
    site, rig = budgeted, budgeted.rig
    token, visitor_id = await visitor(site, "text me")
    assert (await site.ask("text_me", "phone:+15551230011", token)).status_code == 202
    # The same number again: per destination.
    again = await site.ask("text_me", "phone:+15551230011", token)
    assert again.status_code == 429 and again.json()["refused"] == "budget_destination"
    assert (await site.ask("email_transcript", "email:x@example.net", token)).status_code == 202
    # A third destination: per visitor.
    third = await site.ask("text_me", "phone:+15551230012", token)
    assert third.status_code == 429 and third.json()["refused"] == "budget_visitor"
    assert "An agent will follow up" in third.json()["error"]
    # Another country, and a call: refused whatever the budget.
    other, _ = await visitor(site, "hello")
    abroad = await site.ask("text_me", "phone:+442079460958", other)
    assert abroad.status_code == 403 and abroad.json()["refused"] == "country"
    call = await site.ask("call_me", "phone:+15551230013", other)
    assert call.status_code == 403 and call.json()["refused"] == "needs_agent"
    # The whole hub: per hub.
    assert (await site.ask("text_me", "phone:+15551230014", other)).status_code == 202
    hub_wide = await site.ask("text_me", "phone:+15551230015", other)
    assert hub_wide.status_code == 429 and hub_wide.json()["refused"] == "budget_hub"

    await rig.until(lambda: len(site.rest.messages) == 2)
    assert sorted(m["To"] for m in site.rest.messages) == ["+15551230011", "+15551230014"]
    assert len(await site.smtp.wait_for(1)) == 1 and site.rest.calls == []
    refusals = rig.handoff.relay.refusals
    assert sum(refusals.values()) == 5
    assert refusals[("text_me", "country")] == 1 and refusals[("call_me", "needs_agent")] == 1
    # The agent sees each refusal on the conversation; the visitor's widget does not.
    customer = await site.customer_id(Identity("chat", visitor_id))
    notes = [e for e in await rig.timeline(customer) if e["kind"] == "note"]
    assert [n["meta"]["relay_refused"] for n in notes] == ["budget_destination", "budget_visitor"]
    assert "refused" not in "".join(str(e["text"]) for e in await site.seen_by(token)).lower()


async def test_a_verified_number_is_never_budgeted(budgeted: Site) -> None:
    site, rig = budgeted, budgeted.rig
    token, visitor_id = await visitor(site, "text me")
    assert (await site.ask("text_me", f"phone:{CUSTOMER}", token)).status_code == 202
    await rig.until(lambda: len(site.rest.messages) == 1)
    assert (await rig.twilio.sms("SM1", "yes")).status_code == 200
    assert await site.customer_id(Identity("phone", CUSTOMER)) == await site.customer_id(
        Identity("chat", visitor_id)
    )
    for _ in range(4):
        r = await site.ask("text_me", f"phone:{CUSTOMER}", token)
        assert r.status_code == 202, r.text
    call = await site.ask("call_me", f"phone:{CUSTOMER}", token)
    assert call.status_code == 202, call.text
    assert sum(rig.handoff.relay.refusals.values()) == 0
