"""The agent view's background work, started and stopped by the hub's lifespan:
presence heartbeats and waking snoozed conversations.

``wake_snoozed(hub, now)`` is the sweep itself: every snoozed conversation whose
``snoozed_until`` has passed goes back to ``open`` (and so into the inbox), with
a ``conversation.updated`` on the bus. The runtime runs it every
``agent.snooze_check_seconds`` on one instance at a time (the one holding the
``agent.snooze-sweep`` lease in the shared state); tests call it directly with
their own ``now``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from hub.agent.presence import Presence
from hub.errors import NotFound
from hub.security.throttle import SignInThrottle
from hub.timeline.model import Conversation, ConversationStatus, utcnow
from hub.timeline.store import ConversationUpdate, InboxFilter

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["AgentRuntime", "wake_snoozed"]

log = logging.getLogger("hub.agent")

SNOOZED = InboxFilter(status=(ConversationStatus.SNOOZED,))
SNOOZE_LEASE = "agent.snooze-sweep"


def _due(conv: Conversation, now: datetime) -> bool:
    return (
        conv.status is ConversationStatus.SNOOZED
        and conv.snoozed_until is not None
        and conv.snoozed_until <= now
    )


async def wake_snoozed(hub: Hub, now: datetime | None = None) -> list[Conversation]:
    """Re-open the snoozed conversations due by ``now`` (default: the current time)."""
    now = now or utcnow()
    due: list[Conversation] = []
    cursor: str | None = None
    while True:
        page = await hub.store.list_conversations(SNOOZED, cursor=cursor, limit=200)
        due.extend(c for c in page.items if _due(c, now))
        cursor = page.next
        if cursor is None or not page.items:
            break
    woken: list[Conversation] = []
    for conv in due:
        try:
            current = await hub.store.get_conversation(conv.id)
        except NotFound:
            continue
        if not _due(current, now):  # changed meanwhile (re-snoozed, answered)
            continue
        update = ConversationUpdate(status=ConversationStatus.OPEN, snoozed_until=None)
        updated = await hub.pipeline.update_conversation(conv.id, update)
        woken.append(updated)
    return woken


class AgentRuntime:
    """Presence for the live sockets, and the snooze sweep, as lifespan tasks; the
    sign-in throttle (``sign_ins``)."""

    def __init__(self, hub: Hub) -> None:
        settings = hub.settings.agent
        self.hub = hub
        self.presence = Presence(
            hub.bus,
            grace=settings.presence_grace_seconds,
            heartbeat=settings.presence_heartbeat_seconds,
            shared=hub.shared,
        )
        self.snooze_every = settings.snooze_check_seconds
        guard = hub.settings.security
        self.sign_ins = SignInThrottle(
            max_failures=settings.max_failed_sign_ins,
            backoff=guard.sign_in_backoff_seconds,
            cap=settings.lockout_seconds,
            client_failures=guard.client_sign_in_failures,
            client_window=guard.client_sign_in_window_seconds,
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self.presence.run(), name="agent-presence"),
                asyncio.create_task(self._sweep(), name="agent-snooze"),
            ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.presence.stop()
        with contextlib.suppress(Exception):
            await self.hub.shared.release(SNOOZE_LEASE)

    async def sweep_once(self) -> list[Conversation] | None:
        """One round of the snooze sweep, on the one instance holding its lease (taken
        or renewed here); ``None`` when another instance holds it."""
        if not await self.hub.shared.lease(SNOOZE_LEASE, self.snooze_every * 3):
            return None
        return await wake_snoozed(self.hub)

    async def _sweep(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # the store may be briefly unavailable: try again later
                log.exception("waking snoozed conversations failed")
            await asyncio.sleep(self.snooze_every)
