"""Operations in the agent view (Chromium): SLA countdowns, the due-soonest sort and the
triage decisions on the timeline. The hub runs for real (uvicorn, SQLite, the bus)
with operations on and a round-the-clock calendar, so the countdowns are exact."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from hub.app import build_app
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import utcnow
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.store import InboxFilter
from tests.agent.kit import API_SECRET, PASSWORD, Running
from tests.servers import serve

if TYPE_CHECKING:
    from playwright.async_api import Page

OPERATIONS = {
    "enabled": True,
    "check_seconds": 3600,
    "calendars": {"business": {"hours": {}}},
    "ack": {"channels": []},
    "lead": "sam@example.com",
}


async def test_countdowns_due_soonest_sort_and_triage_on_the_timeline(
    page: Page, tmp_path: Path, page_errors: list[str], artifacts: Path
) -> None:
    from playwright.async_api import expect

    settings = Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key="agent-tests-secret-key-0123456789",
        outbox=OutboxSettings(poll_interval=0.05),
        connectors={"api": {"secret": API_SECRET, "callback_url": "http://127.0.0.1:9/cb"}},
        operations=OPERATIONS,  # type: ignore[arg-type]
    )
    store = SQLiteStore(tmp_path / "hub.db")
    app = build_app(settings, store=store)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz")).status_code == 200  # started
        running = Running(url, app.state.hub, client)
        await running.agent("sam@example.com", name="Sam")
        now = utcnow()
        arrivals = [  # who, what, minutes ago; P3 (240 min) unless triage says P2 (60 min)
            ("cy", "How do I export my invoices?", 180),  # P3, due in 1h
            ("bo", "I was charged twice this month", 10),  # P2, due in 50m
            ("di", "Help, I was charged twice and cannot log in", 55),  # P2, due in 5m
            ("ed", "Double charged again!", 120),  # P2, overdue by 1h
            ("fi", "Feature idea: dark mode", 20),  # P3, due in 3h 40m
        ]
        for who, text, ago in arrivals:
            at = (now - timedelta(minutes=ago)).isoformat()
            await running.push(
                f"m-{who}",
                text=text,
                name=who.title(),
                timestamp=at,
                **{"from": f"email:{who}@example.com"},
            )
        ops = app.state.hub.operations
        assert ops is not None

        async def triaged() -> None:
            for _ in range(500):
                convs = await store.list_conversations(InboxFilter(), limit=10)
                if sum("team:billing" in c.tags for c in convs.items) == 3:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError("triage did not run")

        await triaged()

        await page.goto(f"{url}/agent/?sort=due")
        await page.get_by_label("Email").fill("sam@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name=re.compile("^Inbox"))).to_be_visible()
        await expect(page.get_by_label("Sort")).to_have_value("due")
        rows = page.locator("#inbox-rows tr.conv")
        await expect(rows).to_have_count(5)
        await expect(rows.locator("a.who")).to_have_text(["Ed", "Di", "Bo", "Cy", "Fi"])
        ed, di = rows.nth(0).locator(".sla"), rows.nth(1).locator(".sla")
        await expect(ed).to_have_text(re.compile(r"^First response overdue by 1h 0\dm$"))
        await expect(ed).to_have_class(re.compile("sla-breached"))
        await expect(di).to_have_text(re.compile(r"^First response due in [1-5]m$"))
        await expect(di).to_have_class(re.compile("sla-warning"))
        await expect(rows.nth(4).locator(".sla")).to_have_text(
            re.compile(r"^First response due in 3h [34]\dm$")
        )
        await expect(rows.nth(0).locator(".pri")).to_have_text("High")
        await page.screenshot(path=str(artifacts / "operations-inbox.png"), full_page=True)

        await page.get_by_label("Sort").select_option("waiting")
        await page.get_by_role("button", name="Apply").click()
        await expect(rows.locator("a.who")).to_have_text(["Cy", "Ed", "Di", "Fi", "Bo"])

        await page.locator("#inbox-rows a", has_text="Di").click()
        clocks = page.get_by_label("Service level")
        await expect(clocks).to_contain_text("Team billing")
        await expect(clocks).to_contain_text("T1")
        await expect(clocks.locator(".sla").first).to_have_text(
            re.compile(r"^First response due in [1-5]m$")
        )
        await expect(clocks).to_contain_text("Resolution due in")
        await expect(page.locator("#timeline")).to_contain_text(
            "Triage (charged-twice, access): priority P2; team billing; tier T1"
        )
        await expect(page.locator("#live-status")).to_have_text("live")
        await ops.tick()  # Sam is online (this page): the 50 % and 80 % rules reach him
        alerts = page.get_by_role("alert").locator("a.alert")
        await expect(alerts.filter(has_text="Assigned to you")).to_have_count(3)
        await expect(alerts.filter(has_text="SLA warning")).to_have_count(2)
        await expect(page.locator("#timeline")).to_contain_text("assigned to Sam")
        await page.get_by_label("Team").select_option("access")
        await page.get_by_label("Tier").select_option("T2")
        await page.locator("form:has(#team)").get_by_role("button", name="Set").click()
        await expect(page.locator("#timeline")).to_contain_text("Team set to access by Sam")
        await expect(page.locator("#timeline")).to_contain_text("Tier set to T2 by Sam")
        await page.goto(f"{url}/agent/operations")
        accuracy = page.get_by_role("table", name="Rule accuracy, last 30 days")
        # charged-twice decided priority, team and tier for Bo, Di and Ed; Sam changed two of Di's
        await expect(accuracy.locator("tr", has_text="charged-twice").locator("td")).to_have_text(
            ["charged-twice", "9", "7", "78 % (below 85 %)"]
        )
        week = page.get_by_role("table", name="SLA this week")
        await expect(week.locator("tr", has_text="P2").locator("td")).to_have_text(
            ["P2", "3", "1", "67 % (target 95 %)"]
        )
        await page.screenshot(path=str(artifacts / "operations-conversation.png"), full_page=True)
        assert page_errors == []


async def test_operations_page_is_read_only_for_agents_and_admins_edit_hours(
    page: Page, tmp_path: Path, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    settings = Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key="agent-tests-secret-key-0123456789",
        operations={"enabled": True},  # type: ignore[arg-type]
    )
    app = build_app(settings, store=SQLiteStore(tmp_path / "hub.db"))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz")).status_code == 200
        running = Running(url, app.state.hub, client)
        await running.agent("sam@example.com", name="Sam")
        await running.agent("lee@example.com", name="Lee", admin=True)

        async def sign_in(email: str) -> None:
            await page.goto(f"{url}/agent/login")
            await page.get_by_label("Email").fill(email)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("heading", name=re.compile("^Inbox"))).to_be_visible()

        await sign_in("sam@example.com")
        await (
            page.get_by_role("navigation", name="Main")
            .get_by_role("link", name="Operations")
            .click()
        )
        await expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()
        policies = page.get_by_role("table", name="SLA policies")
        await expect(policies.locator("tbody tr").nth(1)).to_contain_text("P2")
        await expect(policies.locator("tbody tr").nth(1)).to_contain_text("1h 00m")
        rules = page.get_by_role("table", name="Triage rules")
        await expect(rules).to_contain_text("charged twice")
        await expect(page.locator("form[action='/agent/operations']")).to_have_count(0)
        await expect(page.get_by_role("table", name="Rule accuracy, last 30 days")).to_contain_text(
            "No triage decisions yet."
        )
        await page.get_by_role("button", name="Sign out").click()

        await sign_in("lee@example.com")
        await page.goto(f"{url}/agent/operations")
        form = page.get_by_role("form", name="Edit calendar business")
        await form.get_by_label("Time zone").fill("Europe/Paris")
        await form.get_by_label("Sat (HH:MM-HH:MM, comma-separated)").fill("10:00-14:00")
        await form.get_by_role("button", name="Save business hours").click()
        calendar = page.get_by_role("region", name="Calendar business")
        await expect(calendar).to_contain_text("Europe/Paris · edited here")
        await expect(calendar).to_contain_text("Sat 10:00-14:00")
        await form.get_by_label("Time zone").fill("Mars/Olympus")
        await form.get_by_role("button", name="Save business hours").click()
        await expect(page.get_by_text("unknown time zone")).to_be_visible()
        ops = app.state.hub.operations
        assert ops is not None and ops.settings.calendars["business"].timezone == "Europe/Paris"
        assert [e for e in page_errors if "422" not in e] == []
