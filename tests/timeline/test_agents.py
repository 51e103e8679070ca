"""Store contract: agents (unique email, updates, sign-in counting and lockout) and read marks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.errors import Conflict, NotFound
from hub.timeline.model import AgentRole, utcnow
from hub.timeline.store import AgentUpdate, TimelineStore


async def test_agents_are_unique_by_email_in_any_case(store: TimelineStore) -> None:
    ana = await store.create_agent(email="Ana@Example.com", name="Ana", password_hash="h1")
    assert ana.id.startswith("agt_")
    assert ana.email == "ana@example.com" and ana.role is AgentRole.AGENT
    assert not ana.disabled and ana.session_epoch == 0
    with pytest.raises(Conflict):
        await store.create_agent(email="ANA@example.com", name="Other", password_hash="h2")
    found = await store.find_agent(" ana@EXAMPLE.com ")
    assert found is not None and found.id == ana.id and found.password_hash == "h1"
    assert await store.find_agent("bob@example.com") is None
    assert (await store.get_agent(ana.id)).name == "Ana"
    with pytest.raises(NotFound):
        await store.get_agent("agt_missing")


async def test_list_agents_oldest_first(store: TimelineStore) -> None:
    first = await store.create_agent(email="a@x.test", name="A", password_hash="h")
    second = await store.create_agent(
        email="b@x.test", name="B", password_hash="h", role=AgentRole.ADMIN
    )
    listed = await store.list_agents()
    assert [a.id for a in listed] == [first.id, second.id]
    assert listed[1].is_admin and not listed[0].is_admin


async def test_new_password_or_disabling_ends_sessions(store: TimelineStore) -> None:
    agent = await store.create_agent(email="a@x.test", name="A", password_hash="h")
    renamed = await store.update_agent(agent.id, AgentUpdate(name="Ann", role=AgentRole.ADMIN))
    assert (renamed.name, renamed.role, renamed.session_epoch) == ("Ann", AgentRole.ADMIN, 0)

    changed = await store.update_agent(agent.id, AgentUpdate(password_hash="h2"))
    assert changed.password_hash == "h2" and changed.session_epoch == 1

    disabled = await store.update_agent(agent.id, AgentUpdate(disabled=True))
    assert disabled.disabled and disabled.session_epoch == 2
    again = await store.update_agent(agent.id, AgentUpdate(disabled=True))
    assert again.session_epoch == 2  # already disabled: nothing to end
    enabled = await store.update_agent(agent.id, AgentUpdate(disabled=False))
    assert not enabled.disabled and enabled.session_epoch == 2
    ended = await store.update_agent(agent.id, AgentUpdate(end_sessions=True))
    assert ended.session_epoch == 3
    assert (await store.get_agent(agent.id)).name == "Ann"
    with pytest.raises(NotFound):
        await store.update_agent("agt_missing", AgentUpdate(name="x"))


async def test_failed_sign_ins_lock_the_account_and_success_resets(
    store: TimelineStore,
) -> None:
    agent = await store.create_agent(email="a@x.test", name="A", password_hash="h")
    now = utcnow()
    kw = {"now": now, "max_failures": 3, "lockout_seconds": 600}
    for expected in (1, 2):
        after = await store.record_sign_in(agent.id, ok=False, **kw)  # type: ignore[arg-type]
        assert after.failed_sign_ins == expected and after.locked_until is None
    locked = await store.record_sign_in(agent.id, ok=False, **kw)  # type: ignore[arg-type]
    assert locked.locked_until is not None
    assert abs(locked.locked_until - (now + timedelta(seconds=600))) < timedelta(seconds=1)
    assert locked.failed_sign_ins == 0

    ok = await store.record_sign_in(agent.id, ok=True, **kw)  # type: ignore[arg-type]
    assert ok.locked_until is None and ok.failed_sign_ins == 0
    assert ok.last_sign_in_at is not None
    with pytest.raises(NotFound):
        await store.record_sign_in("agt_missing", ok=True, **kw)  # type: ignore[arg-type]


async def test_read_marks_only_move_forward(store: TimelineStore) -> None:
    mark = await store.mark_read("agt_1", "con_1", 5)
    assert (mark.agent_id, mark.conversation_id, mark.seq) == ("agt_1", "con_1", 5)
    assert (await store.mark_read("agt_1", "con_1", 3)).seq == 5
    assert (await store.mark_read("agt_1", "con_1", 9)).seq == 9
    await store.mark_read("agt_1", "con_2", 1)
    await store.mark_read("agt_2", "con_1", 2)
    marks = await store.read_marks("agt_1", ["con_1", "con_2", "con_3"])
    assert {k: m.seq for k, m in marks.items()} == {"con_1": 9, "con_2": 1}
    assert await store.read_marks("agt_1", []) == {}
