"""Assemble the hub: ``build_app(settings) -> Starlette``.

Construction wires the parts; the lifespan starts them in order (store →
connectors → outbox) and stops them in reverse, collecting errors.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from hub import agent, api
from hub.agent.runtime import AgentRuntime
from hub.bus import Bus
from hub.connectors.base import Channel, Connector, ConnectorContext
from hub.connectors.chat import widget
from hub.connectors.registry import Registry
from hub.errors import ConfigError
from hub.handoff import Handoff, threads
from hub.handoff import api as handoff_api
from hub.handoff import shared as shared_api
from hub.handoff import web as handoff_web
from hub.limits import BodyLimit
from hub.metrics import api as metrics_api
from hub.metrics import prom as metrics_routes
from hub.metrics.prom import HubMetrics
from hub.metrics.recorder import ResolutionRecorder
from hub.metrics.weekly import WeeklySummary
from hub.operations import Operations
from hub.operations import api as operations_api
from hub.outbox import Outbox
from hub.pipeline import Pipeline
from hub.security.clients import ClientBudgets
from hub.security.headers import SecurityHeaders
from hub.security.health import health_details_allowed
from hub.settings import Settings
from hub.shared import SharedState
from hub.signing import Signer, load_secret_key
from hub.surveys import web as surveys_web
from hub.surveys.service import Surveys
from hub.timeline.blobs import BlobStore, FileBlobStore
from hub.timeline.model import Customer, Identity
from hub.timeline.store import TimelineStore
from hub.webhooks import Webhooks
from hub.webhooks import api as webhooks_api

__all__ = ["Hub", "build_app", "open_bus", "open_shared", "open_store", "secret_values"]

log = logging.getLogger("hub.app")


def open_store(url: str, *, timeout: float = 5.0) -> TimelineStore:
    """The store for ``url``: ``mongodb://…`` / ``mongodb+srv://…`` (finding a server
    for at most ``timeout`` seconds), or an SQLite path (``sqlite:///relative.db``,
    ``sqlite:////absolute.db`` or a plain path)."""
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from hub.timeline.mongo import MongoStore

        return MongoStore(url, server_selection_timeout=timeout)
    from hub.timeline.sqlite import SQLiteStore

    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return SQLiteStore(Path(path))


def open_bus(settings: Settings, store: TimelineStore) -> Bus:
    """The bus ``settings.bus`` names: in-process, or shared through the MongoDB store
    (``auto``: shared when the store is MongoDB)."""
    from hub.timeline.mongo import MongoStore

    if settings.bus == "memory" or (settings.bus == "auto" and not isinstance(store, MongoStore)):
        return Bus()
    if not isinstance(store, MongoStore):
        raise ConfigError("bus = mongodb needs a MongoDB store")
    from hub.bus.mongo import MongoBus

    return MongoBus(lambda: store.db)


def open_shared(settings: Settings, store: TimelineStore) -> SharedState:
    """Presence, budgets and leases, shared the way the bus is: in process, or in the
    MongoDB store's database for every instance on it."""
    from hub.timeline.mongo import MongoStore

    if settings.bus == "memory" or not isinstance(store, MongoStore):
        return SharedState()
    from hub.shared.mongo import MongoSharedState

    return MongoSharedState(lambda: store.db)


def open_blobs(settings: Settings, store: TimelineStore) -> BlobStore:
    if settings.blobs == "gridfs":
        from hub.timeline.gridfs import GridFSBlobStore
        from hub.timeline.mongo import MongoStore

        if not isinstance(store, MongoStore):
            raise ConfigError("blobs = gridfs needs a MongoDB store")
        return GridFSBlobStore(store)
    return FileBlobStore(Path(settings.blobs))


class _Checkpoints:
    def __init__(self, store: TimelineStore, connector: str) -> None:
        self.store = store
        self.connector = connector

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self.store.get_checkpoint(self.connector, key)

    async def set(self, key: str, value: dict[str, Any]) -> None:
        await self.store.set_checkpoint(self.connector, key, value)


@dataclass
class Hub:
    """The running parts, reachable from handlers as ``request.app.state.hub``."""

    settings: Settings
    store: TimelineStore
    blobs: BlobStore
    bus: Bus
    pipeline: Pipeline
    outbox: Outbox
    signer: Signer
    shared: SharedState = field(default_factory=SharedState)
    connectors: dict[str, Connector] = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)
    handoff: Handoff | None = None
    agent_runtime: AgentRuntime | None = None
    operations: Operations | None = None
    metrics: HubMetrics | None = None
    surveys: Surveys | None = None
    weekly: WeeklySummary | None = None
    webhooks: Webhooks | None = None

    @property
    def channels(self) -> dict[str, Connector]:
        """The connector serving each channel (see :func:`served_channels`)."""
        return {name: c for name, (c, _) in served_channels(self.connectors).items()}


def served_channels(connectors: dict[str, Connector]) -> dict[str, tuple[Connector, Channel]]:
    """Each channel name with the one configured connector that serves it.

    Two connectors may declare one channel (``whatsapp`` through Meta or through
    Twilio); only one of them may be configured to serve it
    (:meth:`~hub.connectors.base.Connector.serves`), else :class:`ConfigError`.
    """
    found: dict[str, tuple[Connector, Channel]] = {}
    for connector in connectors.values():
        for spec in connector.channel_specs():
            if not connector.serves(spec.name):
                continue
            if spec.name in found:
                other = found[spec.name][0].name
                raise ConfigError(
                    f"channel {spec.name!r} is served by both the {other} and the "
                    f"{connector.name} connector: configure it on one of them"
                )
            found[spec.name] = (connector, spec)
    return found


def secret_values(settings: Settings, connectors: dict[str, Connector]) -> list[str]:
    """Every configured secret, for the log redaction filter."""
    found: list[str] = []
    if settings.secret_key is not None:
        found.append(settings.secret_key.get_secret_value())

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif hasattr(value, "model_fields"):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    for connector in connectors.values():
        walk(connector.settings)
    for section in settings.connectors.values():
        for key, value in section.items():
            if isinstance(value, str) and any(
                w in key for w in ("secret", "token", "password", "key")
            ):
                found.append(value)
    return found


async def link_verified(
    hub: Hub,
    identity: Identity,
    verified: Identity,
    *,
    by: str,
    name: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> Customer:
    """``ConnectorContext.link_verified`` (see :class:`hub.connectors.base.IdentityLinker`),
    applied with the handoff module's identity rules."""
    assert hub.handoff is not None
    owner = await hub.pipeline.customer_for(verified, name=name)
    customer = await hub.handoff.identities.link_verified(
        owner.id, identity, by=by, evidence=f"verified {verified}"
    )
    if (name and not customer.name) or attributes:
        customer = await hub.pipeline.update_customer(
            customer.id, name=None if customer.name else name, attributes=attributes
        )
    return customer


async def _agents_online(hub: Hub) -> dict[str, str]:
    if hub.agent_runtime is None:
        return {}
    return await hub.agent_runtime.presence.everywhere()


async def _agents_online_ids(hub: Hub) -> set[str]:
    return set(await _agents_online(hub))


def _make_connectors(settings: Settings, registry: Registry, hub: Hub) -> dict[str, Connector]:
    connectors: dict[str, Connector] = {}
    budgets = ClientBudgets(settings.security, hub.shared)
    for name, cls in registry.available.items():
        if not settings.connector_enabled(name, default=cls.enabled_by_default):
            continue
        try:
            conf = cls.settings_model.model_validate(settings.connectors.get(name, {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"connectors.{name}.{where}: {first['msg']}") from None
        context = ConnectorContext(
            ingest=hub.pipeline.ingest,
            report_delivery=hub.pipeline.report_delivery,
            blobs=hub.blobs,
            checkpoints=_Checkpoints(hub.store, name),
            public_url=settings.public_url,
            max_body_bytes=settings.max_body_bytes,
            logger=logging.getLogger(f"hub.connectors.{name}"),
            signer=hub.signer,
            bus=hub.bus,
            timeline=hub.store,
            link_verified=functools.partial(link_verified, hub),
            quarantine=hub.store.quarantine,
            client_budget=budgets,
            default_region=settings.default_region,
            agents_online=functools.partial(_agents_online, hub),
        )
        connectors[name] = cls(conf, context)
    unknown = set(settings.enabled_connectors or ()) - set(registry.available)
    if unknown:
        raise ConfigError(f"enabled_connectors names unknown connectors: {sorted(unknown)}")
    return connectors


async def healthz(request: Request) -> JSONResponse:
    """``{"ok": …}`` (200 or 503) for anyone; the details (store, connectors, outbox) only with
    ``Authorization: Bearer`` an API token or ``security.health_token``."""
    hub: Hub = request.app.state.hub
    try:
        store = await hub.store.health()
    except Exception as exc:  # report, never raise, from a health probe
        store = {"ok": False, "error": type(exc).__name__}
    body: dict[str, Any] = {"ok": bool(store.get("ok"))}
    status = 200 if body["ok"] else 503
    if await health_details_allowed(hub, request.headers.get("authorization")):
        body |= {
            "store": store,
            "connectors": sorted(hub.connectors),
            "outbox": "running" if hub.outbox.running else "stopped",
        }
    return JSONResponse(body, status_code=status)


def build_app(
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    store: TimelineStore | None = None,
) -> Starlette:
    """The hub as an ASGI app. Nothing is opened until the lifespan starts."""
    settings = settings or Settings()
    registry = registry or Registry.discover()
    store = store or open_store(settings.store, timeout=settings.store_timeout)
    bus = open_bus(settings, store)
    pipeline = Pipeline(store, bus)
    hub = Hub(
        settings=settings,
        store=store,
        blobs=open_blobs(settings, store),
        bus=bus,
        pipeline=pipeline,
        outbox=Outbox(store, pipeline, {}, settings.outbox),
        signer=Signer(load_secret_key(settings)),
        shared=open_shared(settings, store),
        registry=registry,
    )
    hub.connectors = _make_connectors(settings, registry, hub)
    hub.metrics = HubMetrics(hub)
    hub.webhooks = Webhooks(store, bus, settings.webhooks)
    hub.weekly = weekly = WeeklySummary(hub)
    hub.agent_runtime = runtime = AgentRuntime(hub)
    if settings.operations.enabled:
        hub.operations = Operations(
            pipeline,
            settings.operations,
            online=lambda: runtime.presence.online,
            everywhere=functools.partial(_agents_online_ids, hub),
        )
    # Operations record resolutions themselves; without them, reports need this.
    recorder = ResolutionRecorder(pipeline) if hub.operations is None else None
    hub.handoff = Handoff(
        pipeline,
        hub.signer,
        settings.handoff,
        public_url=settings.public_url,
        default_region=settings.default_region,
        shared=hub.shared,
    )
    hub.handoff.attach(hub.connectors)
    if settings.surveys.enabled:
        hub.surveys = Surveys(
            pipeline,
            hub.signer,
            settings.surveys,
            public_url=settings.public_url,
            business_name=settings.handoff.business_name,
        )
    served = served_channels(hub.connectors)
    hub.outbox.connectors = {name: c for name, (c, _) in served.items()}
    pipeline.channels = {name: spec for name, (_, spec) in served.items()}

    # Connectors first: provider webhooks are the hot path, routes match in order.
    routes: list[BaseRoute] = [
        Mount(f"/connectors/{name}", routes=list(connector.routes()))
        for name, connector in hub.connectors.items()
    ]
    routes += [
        Route("/healthz", healthz),
        *metrics_routes.routes,
        Mount(
            "/api/v1",
            routes=[
                *api.routes,
                *handoff_api.routes,
                *threads.routes,
                *shared_api.routes,
                *operations_api.routes,
                *webhooks_api.routes,
                *metrics_api.routes,
            ],
        ),
        *handoff_web.routes,
        *surveys_web.routes,
        agent.mount(),
        *widget.routes,
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await store.open()
            stack.push_async_callback(store.close)
            await bus.start()
            stack.push_async_callback(bus.stop)
            await hub.shared.start()
            stack.push_async_callback(hub.shared.stop)
            for connector in hub.connectors.values():
                await connector.start()
                stack.push_async_callback(connector.stop)
            await hub.outbox.start()
            stack.push_async_callback(hub.outbox.stop)
            if hub.webhooks is not None:
                await hub.webhooks.start()
                stack.push_async_callback(hub.webhooks.stop)
            await runtime.start()
            stack.push_async_callback(runtime.stop)
            if hub.operations is not None:
                await hub.operations.start()
                stack.push_async_callback(hub.operations.stop)
            if hub.surveys is not None:
                await hub.surveys.start()
                stack.push_async_callback(hub.surveys.stop)
            await weekly.start()
            stack.push_async_callback(weekly.stop)
            if recorder is not None:
                await recorder.start()
                stack.push_async_callback(recorder.stop)
            log.info("omnihub started", extra={"connectors": sorted(hub.connectors)})
            yield

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(
                SecurityHeaders,
                frame_ancestors=settings.security.frame_ancestors,
                https=settings.public_url.startswith("https://"),
            ),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        ],
    )
    app.state.hub = hub
    return app
