"""Service metrics over a known month, exact on both stores (see ``month.py``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx

from hub.app import build_app
from hub.metrics.service import collect, group, policies_for, summarise
from hub.operations import OperationsSettings
from hub.settings import Settings
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.metrics.month import CONFIG, SINCE, UNTIL, build_month
from tests.servers import serve


async def test_a_known_month_gives_exact_figures(store: TimelineStore) -> None:
    month = await build_month(store)
    policies = policies_for(OperationsSettings.model_validate(CONFIG))
    facts = await collect(store, policies, since=SINCE, until=UNTIL)
    by_id = {f.conversation_id: f for f in facts}
    assert sorted(by_id) == sorted(month.convs.values())  # October and December left out
    a, b, c, d = (by_id[month.convs[k]] for k in "ABCD")
    e, f, g = (by_id[month.convs[k]] for k in "EFG")
    merged = [await store.get_conversation(month.convs[k]) for k in "EF"]
    assert merged[0].customer_id == merged[1].customer_id  # the merge happened

    # Business seconds: B waits Friday 16:30-17:00 and Monday 09:00-09:30.
    assert [x.first_response for x in (a, b, c, d, e, f, g)] == [
        1800,
        3600,
        1200,
        1800,
        3600,
        1800,
        None,
    ]
    # C's resolution runs to its second resolution; D is P1, round the clock.
    assert [x.resolution for x in (a, b, c, d, e, f)] == [3600, 7200, 16200, 10800, 7200, 3600]
    assert [x.handle for x in (a, b, c, d, e, f)] == [1800, 4800, 2100, 1800, 3600, 1800]
    assert [x.fcr for x in (a, b, c, d, e, f, g)] == [True, False, False, True, True, True, False]
    assert (c.reopened, c.transfers, d.breaches, d.priority) == (True, 1, 1, "P1")
    assert (b.channel, c.channel, a.tier, a.team, a.support_tier, a.priority) == (
        "sms",
        "chat",
        "enterprise",
        "billing",
        "T1",
        "P2",
    )
    assert (c.agent, c.team, c.support_tier, g.agent) == ("Kim", "access", "T1", "unassigned")

    total = summarise(facts).as_json()
    assert total == {
        "volume": 7,
        "frt": 2300.0,
        "frt_median": 1800.0,
        "mttr": 8100.0,
        "aht": 2650.0,
        "fcr": 0.6667,
        "reopen_rate": 0.1667,
        "transfers": 0.1429,
        "sla_compliance": 0.8571,
        "breaches": 1,
        "resolved": 6,
        "csat": 0.6667,
        "csat_avg": 3.67,
        "ces": 4.0,
        "nps": 33.3,
        "responses": 8,
        "surveys": 10,
        "response_rate": 0.8,
    }
    assert {k: v.volume for k, v in group(facts, "agent").items()} == {
        "Kim": 5,
        "Sam": 1,
        "unassigned": 1,
    }
    assert {k: v.volume for k, v in group(facts, "channel").items()} == {
        "chat": 1,
        "email": 4,
        "sms": 2,
    }
    by_priority = group(facts, "priority")
    assert {k: v.volume for k, v in by_priority.items()} == {"P1": 1, "P2": 1, "P3": 5}
    assert by_priority["P1"].sla_compliance == 0.0 and by_priority["P3"].sla_compliance == 1.0
    assert group(facts, "tier")["enterprise"].frt == 1800.0
    assert group(facts, "support_tier")["T1"].fcr == 0.5  # A yes, C reopened
    assert group(facts, "team")["billing"].csat == 1.0


async def test_the_api_answers_the_month_as_json_and_csv(
    store: TimelineStore, tmp_path: Path
) -> None:
    await build_month(store)
    settings = Settings(store=str(tmp_path / "unused.db"), blobs=str(tmp_path / "blobs"))
    app = build_app(settings, store=store)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        _, token = await issue_token(store, "lead")
        auth = {"authorization": f"Bearer {token}"}
        period = {"since": "2026-11-01", "until": "2026-12-01T00:00:00Z", "by": "agent"}
        assert (await client.get("/api/v1/metrics/service", params=period)).status_code == 401
        r = await client.get("/api/v1/metrics/service", params=period, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"]["volume"] == 7 and body["total"]["mttr"] == 8100.0
        assert body["groups"]["Kim"]["volume"] == 5 and body["groups"]["Sam"]["fcr"] == 1.0
        r = await client.get(
            "/api/v1/metrics/service", params={**period, "format": "csv"}, headers=auth
        )
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0][:3] == ["agent", "volume", "frt"]
        assert [row[0] for row in rows[1:]] == ["Kim", "Sam", "unassigned", "total"]
        assert rows[-1][1:3] == ["7", "2300.0"]
        bad = await client.get(
            "/api/v1/metrics/service", params={"since": "last week"}, headers=auth
        )
        assert bad.status_code == 422 and bad.json()["field"] == "since"
        bad = await client.get("/api/v1/metrics/service", params={"by": "mood"}, headers=auth)
        assert bad.status_code == 422 and bad.json()["field"] == "by"
