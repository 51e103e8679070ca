"""The Reports page of the agent view: server-rendered SVG charts and tables over the
known month, drill-down to the conversations behind a number, CSV, German."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from hub.timeline.store import TimelineStore
from tests.agent.kit import hub_for_agents
from tests.metrics.month import build_month

PERIOD = "since=2026-11-01&until=2026-11-30"


async def test_the_dashboard_drill_down_and_csv(store: TimelineStore, tmp_path: Path) -> None:
    month = await build_month(store)
    async with hub_for_agents(store, tmp_path) as running:
        assert (await running.client.get(f"/agent/reports?{PERIOD}")).status_code == 303
        await running.agent("lead@example.com", name="Lee")
        async with running.signed_in("lead@example.com") as lee:
            page = await lee.client.get(f"/agent/reports?{PERIOD}&by=agent")
            assert page.status_code == 200, page.text
            html = page.text
            assert html.count("<svg") == 4 and "<script>" not in html  # no inline script
            assert 'href="/agent/reports"' in html  # in the navigation
            assert 'type="date" name="until" value="2026-11-30"' in html
            # the totals as people read them (durations in business time)
            tiles = re.sub(r"\s+", " ", html[html.index('class="tiles"') :])
            assert ">7</a></strong>" in tiles and "38m 20s" in tiles  # FRT mean 2300 s
            assert "2h 15m" in tiles and "67 %" in tiles and "+33" in tiles
            for name in ("Kim", "Sam", "unassigned"):
                assert f">{name}</a></th>" in html
            # every bar is a link with its value spelled out
            assert "<title>Kim: 5</title>" in html

            drill = await lee.client.get(
                f"/agent/reports?{PERIOD}&by=agent&group=Kim&only=breached"
            )
            shown = re.findall(r'href="/agent/conversations/(con_\w+)"', drill.text)
            assert shown == [month.convs["D"]]
            reopened = await lee.client.get(f"/agent/reports?{PERIOD}&only=reopened")
            assert re.findall(r'href="/agent/conversations/(con_\w+)"', reopened.text) == [
                month.convs["C"]
            ]
            bad = await lee.client.get(f"/agent/reports?{PERIOD}&only=happy")
            assert bad.status_code == 422

            r = await lee.client.get(f"/agent/reports.csv?{PERIOD}&by=channel")
            assert r.headers["content-type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(r.text)))
            assert [row[0] for row in rows] == ["channel", "chat", "email", "sms", "total"]
            r = await lee.client.get(f"/agent/reports.csv?{PERIOD}&by=channel&group=sms")
            rows = list(csv.reader(io.StringIO(r.text)))
            assert rows[0][:3] == ["conversation_id", "opened_at", "channel"]
            assert sorted(row[0] for row in rows[1:]) == sorted(
                [month.convs["B"], month.convs["E"]]
            )

        async with running.signed_in("lead@example.com", **{"Accept-Language": "de"}) as lee:
            page = await lee.client.get(f"/agent/reports?{PERIOD}")
            assert "Berichte" in page.text and "Eröffnete Gespräche pro Tag" in page.text
