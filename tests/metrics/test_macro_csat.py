"""CSAT per macro, in the API and on the Reports page, exact on both stores: a
conversation's CSAT counts for every macro one of our replies in it came from."""

from __future__ import annotations

import re
from pathlib import Path

from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.agent.kit import hub_for_agents
from tests.metrics.month import EMAIL, Month, at, build_month
from tests.metrics.test_reports import PERIOD


async def _macro_month(store: TimelineStore) -> Month:
    """The known month, plus: H (refund status, CSAT 5), I (refund status then closing,
    CSAT 2), J (closing, never answered the survey), and a December reply (out of range)."""
    m = await build_month(store)
    h = await m.write(at(18, 10), Identity("email", "hana@example.com"), "Refund?", EMAIL)
    await m.reply(at(18, 10, 20), h, m.kim, EMAIL, macro="refund_status")
    await m.resolve(at(18, 11), h)
    await m.survey(at(18, 11, 5), h, "csat", 5, EMAIL)
    i = await m.write(at(19, 10), Identity("email", "ivo@example.com"), "Refund??", EMAIL)
    await m.reply(at(19, 10, 20), i, m.kim, EMAIL, macro="refund_status")
    await m.reply(at(19, 10, 40), i, m.sam, EMAIL, macro="closing")
    await m.resolve(at(19, 11), i)
    await m.survey(at(19, 11, 5), i, "csat", 2, EMAIL)
    j = await m.write(at(20, 10), Identity("email", "jo@example.com"), "Thanks", EMAIL)
    await m.reply(at(20, 10, 20), j, m.sam, EMAIL, macro="closing")
    await m.resolve(at(20, 11), j)
    await m.survey(at(20, 11, 5), j, "csat", None, EMAIL)
    k = await m.write(at(1, 10, month=12), Identity("email", "kai@example.com"), "Hi", EMAIL)
    await m.reply(at(1, 10, 20, month=12), k, m.sam, EMAIL, macro="password_reset")
    return m


async def test_csat_per_macro_in_the_api_and_on_the_reports_page(
    store: TimelineStore, tmp_path: Path
) -> None:
    await _macro_month(store)
    async with hub_for_agents(store, tmp_path) as running:
        _, token = await issue_token(store, "lead")
        r = await running.client.get(
            "/api/v1/reports/macros",
            params={"from": "2026-11-01", "to": "2026-11-30"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["items"] == [
            {
                "macro": "closing",
                "title": "Closing",
                "replies": 2,
                "conversations": 2,
                "csat_responses": 1,
                "csat": 0.0,
                "csat_avg": 2.0,
            },
            {
                "macro": "refund_status",
                "title": "Refund status",
                "replies": 2,
                "conversations": 2,
                "csat_responses": 2,
                "csat": 0.5,
                "csat_avg": 3.5,
            },
        ]
        await running.agent("lead@example.com", name="Lee")
        async with running.signed_in("lead@example.com") as lee:
            page = await lee.client.get(f"/agent/reports?{PERIOD}")
            assert page.status_code == 200, page.text
            table = re.sub(r"\s+", " ", page.text[page.text.index('class="figures macros"') :])
            assert (
                '<th scope="row">Closing</th><td>2</td><td>2</td><td>1</td><td>0 %</td><td>2.0</td>'
            ) in table
            assert (
                '<th scope="row">Refund status</th><td>2</td><td>2</td><td>2</td><td>50 %</td>'
                "<td>3.5</td>"
            ) in table
            assert "Password reset" not in table  # used in December only
        async with running.signed_in("lead@example.com", **{"Accept-Language": "de"}) as lee:
            page = await lee.client.get(f"/agent/reports?{PERIOD}")
            assert ">Textbausteine</h2>" in page.text and "CSAT-Antworten" in page.text
