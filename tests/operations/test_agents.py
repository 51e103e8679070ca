"""What agents do to operations' decisions: transfers, overrides, the accuracy report,
restarts, and the read-only API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from hub.app import build_app
from hub.bus import BusMessage, Topic
from hub.operations import Operations
from hub.operations.report import breaches, rule_accuracy
from hub.settings import OperationsSettings, Settings
from hub.timeline.model import Identity, Priority
from hub.timeline.store import ConversationUpdate, TimelineStore
from hub.tokens import issue_token
from tests.operations.kit import FRIDAY, FakeClock, agents, decisions, make_hub, until
from tests.servers import serve


async def test_transfers_are_counted_and_a_third_escalates(store: TimelineStore) -> None:
    sam, lee = await agents(store)
    kim = await store.create_agent(email="kim@example.com", name="Kim", password_hash="x")
    hub = make_hub(store, FakeClock(FRIDAY))
    event = await hub.ingest("m1", "Where is my parcel?")
    conv_id = event.conversation_id
    assert conv_id is not None
    await hub.pipeline.update_conversation(conv_id, ConversationUpdate(assignee=sam.id))
    # a second instance on the same bus (the MongoDB bus reaches every instance)
    twin = Operations(hub.pipeline, hub.ops.settings, clock=hub.clock)
    await hub.ops.start()
    await twin.start()
    try:
        for n, to in enumerate((kim.id, sam.id, kim.id), start=1):
            before = await store.get_conversation(conv_id)
            await hub.pipeline.update_conversation(
                conv_id, ConversationUpdate(assignee=to), by=before.assignee, before=before
            )

            async def counted(n: int = n) -> bool:
                return len(await decisions(store, conv_id, "transfer")) == n

            await until(counted)

        async def escalated() -> list[object]:
            return await decisions(store, conv_id, "escalation")

        (escalation,) = await until(escalated)
    finally:
        await hub.ops.stop()
        await twin.stop()
    assert escalation.meta["rule"] == "transfers" and escalation.meta["lead"] == lee.id
    transfers = await decisions(store, conv_id, "transfer")
    assert [e.meta["count"] for e in transfers] == [1, 2, 3]
    assert transfers[0].text == "Transfer 1: Sam → Kim"


async def test_rule_accuracy_counts_what_agents_finally_set(store: TimelineStore) -> None:
    sam, _ = await agents(store)
    hub = make_hub(store, FakeClock(FRIDAY))
    convs = []
    for i, who in enumerate(("ana", "bo")):
        event = await hub.ingest(
            f"m{i}", "I was charged twice", identity=Identity("email", f"{who}@example.com")
        )
        await hub.ops.on_inbound(event)
        assert event.conversation_id is not None
        convs.append(event.conversation_id)
    before = await store.get_conversation(convs[0])
    after = await hub.pipeline.update_conversation(
        convs[0], ConversationUpdate(priority=Priority.NORMAL), by=sam.id, before=before
    )
    await hub.ops.on_change(after, {"by": sam.id, "before": {"priority": before.priority.value}})
    (override,) = await decisions(store, convs[0], "override")
    assert override.meta["field"] == "priority" and override.meta["value"] == "P3"

    # the 80 % rule raising the other one is the hub's doing, not a correction
    await hub.ops.tick(FRIDAY.replace(day=7, hour=9, minute=45))
    assert (await store.get_conversation(convs[1])).priority is Priority.URGENT

    since, end = FRIDAY - timedelta(days=30), FRIDAY + timedelta(days=30)
    (row,) = await rule_accuracy(store, since=since, until=end, target=0.85)
    assert row.rule == "charged-twice"
    assert (row.decisions, row.correct) == (6, 5)  # priority, team, tier for 2; one priority wrong
    assert not row.meets_target  # 83 % < 85 %
    report = await breaches(store, since=since, until=end, targets={"P2": 0.95, "P3": 0.9})
    assert report.by_priority == {"P2": 1} and report.by_agent == {"unassigned": 1}
    # one P2 breached (now P1, its policy still P2's), one set to P3 by an agent
    assert report.as_json()["compliance"] == {
        "P2": {
            "conversations": 1,
            "breached": 1,
            "compliance": 0.0,
            "target": 0.95,
            "meets_target": False,
        },
        "P3": {
            "conversations": 1,
            "breached": 0,
            "compliance": 1.0,
            "target": 0.9,
            "meets_target": True,
        },
    }


async def test_a_restarted_hub_fires_what_came_due_and_nothing_twice(store: TimelineStore) -> None:
    sam, _ = await agents(store)
    clock = FakeClock(FRIDAY)
    first = make_hub(store, clock)
    event = await first.ingest("m1", "I was charged twice")
    await first.ops.on_inbound(event)  # nobody online yet: no assignment on arrival
    first.online.add(sam.id)
    monday = FRIDAY.replace(day=7, hour=9, minute=0)
    assert [e.meta["operations"] for e in await first.ops.tick(monday + timedelta(minutes=11))] == [
        "sla_assign"
    ]
    restarted = make_hub(store, clock)  # a new process: nothing in memory
    fired = await restarted.ops.tick(monday + timedelta(minutes=45))
    assert [e.meta["operations"] for e in fired] == ["sla_warning", "sla_breach"]
    assert await restarted.ops.tick(monday + timedelta(minutes=46)) == []


async def test_api_shows_the_configuration_and_reports(tmp_path: Path) -> None:
    def settings(enabled: bool) -> Settings:
        return Settings(
            store=str(tmp_path / "hub.db"),
            blobs=str(tmp_path / "blobs"),
            secret_key="ops-tests-secret-key-0123456789",
            operations={"enabled": enabled},  # type: ignore[arg-type]
        )

    for enabled in (True, False):
        app = build_app(settings(enabled))
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 200  # started
            _, token = await issue_token(app.state.hub.store, f"t-{enabled}")
            auth = {"Authorization": f"Bearer {token}"}
            r = await client.get("/api/v1/operations/config", headers=auth)
            if not enabled:
                assert r.status_code == 404
                continue
            assert r.status_code == 200
            body = r.json()
            assert [p["first_response_minutes"] for p in body["policies"]] == [15, 60, 240, 480]
            assert body["rules"][0]["name"] == "charged-twice"
            r = await client.get("/api/v1/operations/accuracy", headers=auth)
            assert r.status_code == 200 and r.json()["rules"] == []
            r = await client.get("/api/v1/operations/breaches?since=yesterday", headers=auth)
            assert r.status_code == 422 and r.json()["field"] == "since"
            assert (await client.get("/api/v1/operations/config")).status_code == 401


async def test_admins_edit_teams_staff_and_hours_and_every_instance_follows(
    tmp_path: Path, store: TimelineStore
) -> None:
    settings = Settings(
        store=str(tmp_path / "hub.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key="ops-tests-secret-key-0123456789",
        operations={"enabled": True},  # type: ignore[arg-type]
    )
    app = build_app(settings, store=store)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz")).status_code == 200
        hub = app.state.hub
        _, token = await issue_token(hub.store, "admin")
        auth = {"Authorization": f"Bearer {token}"}
        r = await client.put(
            "/api/v1/operations/teams/billing",
            json={"lead": "lee@example.com", "skill": "billing"},
            headers=auth,
        )
        assert r.status_code == 200 and r.json()["teams"]["billing"]["skill"] == "billing"
        r = await client.put(
            "/api/v1/operations/calendars/business",
            json={"timezone": "Mars/Olympus", "hours": {"mon": ["09:00-17:00"]}},
            headers=auth,
        )
        assert r.status_code == 422
        assert r.json()["field"] == "operations.calendars.business.timezone"
        r = await client.put(
            "/api/v1/operations/calendars/business",
            json={"timezone": "Europe/Paris", "hours": {"sat": ["10:00-14:00"]}},
            headers=auth,
        )
        assert r.status_code == 200
        r = await client.put(
            "/api/v1/operations/staff/sam@example.com", json={"capacity": 0}, headers=auth
        )
        assert (
            r.status_code == 422
            and r.json()["field"] == "operations.staff.sam@example.com.capacity"
        )
        assert (
            await client.put("/api/v1/operations/rules/x", json={}, headers=auth)
        ).status_code == 404

        # another instance on the same store picks the edits up on its next sweep
        other = make_hub(hub.store, FakeClock(FRIDAY), {"enabled": True})
        await other.ops.reload()
        assert other.ops.settings.teams["billing"].lead == "lee@example.com"
        cal = other.ops.policies.calendar(other.ops.settings.sla.all_policies[1])
        assert cal.zone.key == "Europe/Paris" and cal.week[5] and not cal.week[0]

        r = await client.delete("/api/v1/operations/teams/billing", headers=auth)
        assert r.status_code == 200 and "billing" not in r.json()["teams"]


async def test_a_message_its_hub_never_handled_is_triaged_by_the_next_sweep(
    store: TimelineStore,
) -> None:
    crashed = make_hub(store, FakeClock(FRIDAY))
    event = await crashed.ingest("m1", "I was charged twice")  # stored; then the hub stopped
    conv_id = event.conversation_id
    assert conv_id is not None
    assert await decisions(store, conv_id, "triage") == []
    survivor = make_hub(store, FakeClock(FRIDAY))
    await survivor.ops.tick(FRIDAY + timedelta(minutes=1))
    (triage,) = await decisions(store, conv_id, "triage")
    assert triage.meta["rule"] == "charged-twice"
    assert len(await decisions(store, conv_id, "ack")) == 1
    assert (await store.get_conversation(conv_id)).priority is Priority.HIGH
    await survivor.ops.tick(FRIDAY + timedelta(minutes=2))
    await survivor.ops.on_inbound(event)  # the bus catching up late: still once
    assert len(await decisions(store, conv_id, "triage")) == 1
    assert len(await decisions(store, conv_id, "ack")) == 1


async def test_agents_online_on_other_instances_count_until_their_presence_lapses(
    store: TimelineStore,
) -> None:
    sam, lee = await agents(store)
    elsewhere = {sam.id}

    async def everywhere() -> set[str]:
        return set(elsewhere)

    pipeline = make_hub(store, FakeClock(FRIDAY)).pipeline
    ops = Operations(pipeline, OperationsSettings(enabled=True), everywhere=everywhere)
    await ops.start()  # started after Sam came online on another instance
    try:
        assert ops.online() == {sam.id}
        data = {"agent": lee.id, "online": True}
        await ops.handle(BusMessage(Topic.AGENT_PRESENCE, "", data=data))
        assert ops.online() == {sam.id, lee.id}
        elsewhere.clear()  # their instance died: the shared entries lapsed
        await ops.refresh_online()
        assert ops.online() == set()
    finally:
        await ops.stop()
