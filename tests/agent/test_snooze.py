"""Snoozed conversations wake up: back to open, back in the inbox, announced live."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

from hub.agent.runtime import AgentRuntime, wake_snoozed
from hub.bus import BusMessage, Topic
from hub.shared import SharedState
from hub.shared.mongo import MongoSharedState
from hub.timeline.model import ConversationStatus, utcnow
from hub.timeline.mongo import MongoStore
from hub.timeline.store import ConversationUpdate, TimelineStore
from tests.agent.kit import hub_for_agents


async def test_a_snoozed_conversation_returns_to_the_inbox_when_its_time_comes(
    store: TimelineStore, tmp_path: Path
) -> None:
    async with hub_for_agents(store, tmp_path, snooze_check_seconds=3600) as running:
        await running.agent("ana@example.com")
        first = await running.push("m-1", text="Call me back next week")
        later = await running.push(
            "m-2", text="Remind me in a day", **{"from": "email:bo@example.com"}, name="Bo"
        )
        async with running.signed_in("ana@example.com") as ana:
            for conv, hours in ((first, "1"), (later, "24")):
                r = await ana.post(
                    f"/agent/conversations/{conv['conversation_id']}/update",
                    {"op": "snooze", "hours": hours},
                )
                assert r.status_code == 200, r.text
            inbox = (await ana.client.get("/agent/")).text
            assert "Call me back next week" not in inbox and "Remind me in a day" not in inbox

            with running.hub.bus.subscribe(
                lambda m: m.topic == Topic.CONVERSATION_UPDATED
            ) as updates:
                assert await wake_snoozed(running.hub, utcnow() + timedelta(minutes=30)) == []
                woken = await wake_snoozed(running.hub, utcnow() + timedelta(hours=1, seconds=1))
                assert [c.id for c in woken] == [first["conversation_id"]]
                async with asyncio.timeout(5):
                    told = await updates.get()
                assert isinstance(told, BusMessage) and told.conversation is not None
                assert told.conversation.id == first["conversation_id"]  # the inbox refreshes
            inbox = (await ana.client.get("/agent/")).text
            assert "Call me back next week" in inbox and "Remind me in a day" not in inbox
            reopened = await running.hub.store.get_conversation(first["conversation_id"])
            assert reopened.status is ConversationStatus.OPEN and reopened.snoozed_until is None
            again = await wake_snoozed(running.hub, utcnow() + timedelta(hours=1, seconds=1))
            assert again == []  # woken once


async def test_the_hub_wakes_snoozed_conversations_by_itself(
    store: TimelineStore, tmp_path: Path
) -> None:
    async with hub_for_agents(store, tmp_path, snooze_check_seconds=0.05) as running:
        created = await running.push("m-1", text="Ping me later")
        conv_id = created["conversation_id"]
        with running.hub.bus.subscribe(
            lambda m: (
                m.topic == Topic.CONVERSATION_UPDATED
                and m.conversation is not None
                and m.conversation.status is ConversationStatus.OPEN
            )
        ) as reopened:
            await store.update_conversation(
                conv_id,
                ConversationUpdate(
                    status=ConversationStatus.SNOOZED, snoozed_until=utcnow() - timedelta(seconds=1)
                ),
            )
            async with asyncio.timeout(5):
                told = await reopened.get()
        assert isinstance(told, BusMessage)
        conv = await store.get_conversation(conv_id)
        assert conv.status is ConversationStatus.OPEN


async def test_two_instances_sweep_snoozed_conversations_one_at_a_time(
    store: TimelineStore, tmp_path: Path
) -> None:
    async with hub_for_agents(store, tmp_path, snooze_check_seconds=3600) as running:
        one = running.hub
        other_shared = (
            MongoSharedState(lambda: store.db)
            if isinstance(store, MongoStore)
            else SharedState(joining=one.shared)
        )
        other = dataclasses.replace(one, shared=other_shared)
        first, second = AgentRuntime(one), AgentRuntime(other)
        created = await running.push("m-1", text="Ping me later")
        await store.update_conversation(
            created["conversation_id"],
            ConversationUpdate(
                status=ConversationStatus.SNOOZED, snoozed_until=utcnow() - timedelta(seconds=1)
            ),
        )
        rounds = await asyncio.gather(first.sweep_once(), second.sweep_once())
        assert sorted(r is None for r in rounds) == [False, True]  # one instance swept
        woken = [c.id for r in rounds if r is not None for c in r]
        assert woken == [created["conversation_id"]]
        holder, waiting = (first, second) if rounds[0] is not None else (second, first)
        assert await waiting.sweep_once() is None
        await holder.stop()  # releases the lease: the other instance takes over
        assert await waiting.sweep_once() == []
