"""A real hub around one connector, for the kit: SQLite store, outbox, loopback HTTP.

:func:`running_hub` builds the hub with only the connector under test
(registered as the entry point would), serves it on loopback, records every
timeline change published on the bus and every log record, and tears it all
down in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from hub.app import Hub, build_app
from hub.bus import BusMessage, Subscription, Topic
from hub.connectors.base import Connector
from hub.connectors.registry import Registry
from hub.settings import OutboxSettings, Settings
from hub.testing.provider import ProviderDouble
from hub.testing.serve import serve
from hub.timeline.model import DeliveryStatus, Event
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.store import InboxFilter

__all__ = ["KitHub", "running_hub"]

FAST_OUTBOX = OutboxSettings(
    poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05, max_attempts=3
)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class KitHub:
    """The running hub: its parts, an HTTP client on it, what it published and logged."""

    hub: Hub
    client: httpx.AsyncClient
    connector: Connector
    logs: list[logging.LogRecord]
    latest: dict[str, Event] = field(default_factory=dict)
    published: list[Event] = field(default_factory=list)
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The connector's checkpoints as last written (a source's progress)."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    provider: ProviderDouble | None = None
    """The test's provider double (for doubles that connect to the hub themselves)."""

    def notify(self) -> None:
        """Wake :meth:`until` waiters: call it when something they may wait on
        changed outside the timeline (a double's socket received a frame)."""
        self.changed.set()

    def websocket(self, path: str, **options: Any) -> connect:
        """A websocket client on the connector's route ``path`` (under
        ``/connectors/<name>/``, query string allowed): ``async with
        hub.websocket("ws?site=x", origin=...) as ws``; ``options`` go to
        :func:`websockets.asyncio.client.connect`."""
        base = str(self.client.base_url).replace("http", "ws", 1).rstrip("/")
        return connect(f"{base}/connectors/{self.connector.name}/{path.lstrip('/')}", **options)

    async def _watch(self, sub: Subscription) -> None:
        with sub:
            async for message in sub:
                if isinstance(message, BusMessage) and message.event is not None:
                    if message.topic == Topic.EVENT_CREATED:
                        self.published.append(message.event)
                    self.latest[message.event.id] = message.event
                    self.changed.set()

    def _watch_checkpoints(self) -> None:
        store = self.connector.context.checkpoints
        write = store.set

        async def noted(key: str, value: dict[str, Any]) -> None:
            await write(key, value)
            self.checkpoints[key] = value
            self.changed.set()

        vars(store)["set"] = noted

    async def until(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``predicate()`` holds, re-checked on every timeline change,
        checkpoint write and :meth:`notify`."""
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    def delivery(self, event_id: str) -> DeliveryStatus | None:
        """The last published delivery status of an outbound event."""
        event = self.latest.get(event_id)
        return event.delivery.status if event and event.delivery else None

    async def settled(self, event_id: str) -> Event:
        """The outbound event once its first attempt is recorded (sent, retrying or failed)."""

        def attempted() -> bool:
            event = self.latest.get(event_id)
            d = event.delivery if event else None
            return d is not None and (d.status.final or d.error is not None)

        await self.until(attempted)
        return self.latest[event_id]

    async def stored(self) -> list[Event]:
        """Every event in the store, in timeline order."""
        events: list[Event] = []
        cursor: str | None = None
        while True:
            page = await self.hub.store.list_conversations(
                InboxFilter(status=()), cursor=cursor, limit=100
            )
            for conv in page.items:
                newer: str | None = None
                while True:
                    got = await self.hub.store.events(
                        conversation_id=conv.id, cursor=newer, direction="newer", limit=100
                    )
                    events.extend(got.items)
                    if not got.has_newer:
                        break
                    newer = got.newer
            if page.next is None:
                break
            cursor = page.next
        return sorted(events, key=lambda e: e.seq)

    def log_text(self) -> str:
        """Every log record of the run, formatted with its traceback."""
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        return "\n".join(formatter.format(r) for r in self.logs)


@contextlib.asynccontextmanager
async def running_hub(
    connector: type[Connector],
    settings: dict[str, Any],
    tmp: Path,
    *,
    public_url: str,
    provider: ProviderDouble | None = None,
) -> AsyncIterator[KitHub]:
    """The hub with ``connector`` configured by ``settings``, served on loopback."""
    registry = Registry()
    registry.add(connector)
    hub_settings = Settings(
        store=str(tmp / "hub.db"),
        blobs=str(tmp / "blobs"),
        secret_key_file=str(tmp / "secret_key"),
        public_url=public_url,
        outbox=FAST_OUTBOX,
        connectors={connector.name: settings},
        enabled_connectors=None,
    )
    handler = _Records()
    root = logging.getLogger()
    level = root.level
    quiet = logging.getLogger("aiosqlite")  # SQL statements: no secrets, much noise
    quiet_level = quiet.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet.setLevel(logging.INFO)
    try:
        store = SQLiteStore(tmp / "hub.db")
        app = build_app(hub_settings, registry=registry, store=store)
        hub: Hub = app.state.hub
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            kit_hub = KitHub(hub, client, hub.connectors[connector.name], handler.records)
            kit_hub.provider = provider
            kit_hub._watch_checkpoints()
            topics = (Topic.EVENT_CREATED, Topic.EVENT_UPDATED)
            sub = hub.bus.subscribe(lambda m: m.topic in topics)
            watcher = asyncio.create_task(kit_hub._watch(sub), name="kit-bus-watcher")
            try:
                yield kit_hub
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        quiet.setLevel(quiet_level)
