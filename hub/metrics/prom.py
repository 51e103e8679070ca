"""Operational metrics at ``GET /metrics`` in the Prometheus text format.

Each hub instance keeps its own registry (``prometheus-client``) and reports
what *it* did, so summing over instances counts each message once:

* ``omnihub_messages_ingested_total{channel}`` — customer messages this instance stored;
* ``omnihub_messages_sent_total{channel}`` — replies its outbox handed to a provider
  (sent, or delivered at once as a live chat reply is);
* ``omnihub_delivery_failures_total{channel}`` — deliveries that failed for good
  (``omnihub_delivery_retries_total`` counts transient ones);
* ``omnihub_outbox_depth`` / ``omnihub_outbox_oldest_age_seconds`` — replies not yet
  sent (queued or sending) in the store, and how long the oldest has waited
  (``omnihub_store_up`` says whether the store answered the scrape);
* ``omnihub_websocket_connections{kind}`` — open widget (``chat``) and agent-page sockets;
* ``omnihub_bus_subscribers_dropped_total`` / ``omnihub_bus_resyncs_total`` — bus
  subscribers that fell behind, and those told to re-read after a gap;
* ``omnihub_store_seconds{operation}`` — how long store calls take (a histogram).

The route answers only with ``Authorization: Bearer`` ``security.health_token`` or an
API token (what a monitor holds), else 401.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.security.health import health_details_allowed
from hub.timeline.fold import is_conversational
from hub.timeline.model import DeliveryStatus, Direction, Event, utcnow

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["STORE_OPERATIONS", "HubMetrics", "routes"]

log = logging.getLogger("hub.metrics")

STORE_OPERATIONS = (
    "run",
    "events",
    "get_conversation",
    "list_conversations",
    "conversation_events",
    "get_customer",
    "claim_outbound",
    "record_delivery",
    "report_status",
)
"""The store calls timed in ``omnihub_store_seconds`` (units of work, timeline pages,
inbox pages, the outbox's claims and outcomes)."""


class _Live(Collector):
    """Values read at scrape time: the outbox backlog, sockets, bus drops."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.backlog: tuple[int, float] | None = (0, 0.0)

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "omnihub_store_up",
            "Whether the store answered this scrape",
            value=0 if self.backlog is None else 1,
        )
        if self.backlog is not None:
            depth, age = self.backlog
            yield GaugeMetricFamily(
                "omnihub_outbox_depth", "Replies queued or sending, not yet sent", value=depth
            )
            yield GaugeMetricFamily(
                "omnihub_outbox_oldest_age_seconds",
                "How long the oldest unsent reply has waited",
                value=age,
            )
        sockets = GaugeMetricFamily(
            "omnihub_websocket_connections", "Open websockets on this instance", labels=["kind"]
        )
        chat = self.hub.connectors.get("chat")
        sessions = getattr(chat, "sessions", None)
        sockets.add_metric(["chat"], len(sessions) if sessions is not None else 0)
        runtime = self.hub.agent_runtime
        sockets.add_metric(["agent"], runtime.presence.sockets if runtime is not None else 0)
        yield sockets
        for name, doc, value in (
            (
                "omnihub_bus_subscribers_dropped",
                "Bus subscribers dropped for falling behind",
                self.hub.bus.dropped,
            ),
            (
                "omnihub_bus_resyncs",
                "Bus subscribers told to re-read after a gap",
                self.hub.bus.resyncs,
            ),
        ):
            yield CounterMetricFamily(name, doc, value=value)


class HubMetrics:
    """One instance's Prometheus registry, fed by the pipeline's observers."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "omnihub_messages_ingested",
            "Customer messages stored",
            ["channel"],
            registry=self.registry,
        )
        self.sent = Counter(
            "omnihub_messages_sent",
            "Replies handed to their provider",
            ["channel"],
            registry=self.registry,
        )
        self.failures = Counter(
            "omnihub_delivery_failures",
            "Deliveries failed for good",
            ["channel"],
            registry=self.registry,
        )
        self.retries = Counter(
            "omnihub_delivery_retries",
            "Delivery attempts that will be retried",
            ["channel"],
            registry=self.registry,
        )
        self.store_seconds = Histogram(
            "omnihub_store_seconds",
            "Store call latency",
            ["operation"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.live = _Live(hub)
        self.registry.register(self.live)
        hub.pipeline.observers.append(self.observe)
        self.instrument(hub.store)

    def observe(self, what: str, event: Event) -> None:
        """Count one stored event or delivery change (a pipeline observer)."""
        if what == "created":
            if event.direction is Direction.IN and is_conversational(event):
                self.ingested.labels(event.channel).inc()
            return
        delivery = event.delivery
        if delivery is None:
            return
        status = delivery.status
        if status is DeliveryStatus.FAILED:
            self.failures.labels(event.channel).inc()  # a send that failed, or "undelivered"
        elif what == "attempt" and status is DeliveryStatus.QUEUED and delivery.error:
            self.retries.labels(event.channel).inc()
        elif what == "attempt" and status.rank >= DeliveryStatus.SENT.rank:
            self.sent.labels(event.channel).inc()

    def instrument(self, store: object) -> None:
        """Time ``store``'s :data:`STORE_OPERATIONS` (wrapping them on the instance)."""
        for name in STORE_OPERATIONS:
            method = getattr(store, name, None)
            if method is not None:
                setattr(store, name, self._timed(name, method))

    def _timed(
        self, name: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        child = self.store_seconds.labels(name)

        @functools.wraps(method)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                child.observe(time.perf_counter() - start)

        return timed

    async def render(self) -> bytes:
        """The exposition text, with the outbox backlog read from the store now (left out,
        and ``omnihub_store_up 0``, when the store does not answer)."""
        try:
            depth, oldest = await self.hub.store.outbox_backlog()
        except Exception:  # a scrape reports an outage, it does not fail with it
            log.warning("metrics: the store did not answer", exc_info=True)
            self.live.backlog = None
        else:
            age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
            self.live.backlog = (depth, age)
        return generate_latest(self.registry)


async def metrics(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    if hub.metrics is None or not await health_details_allowed(
        hub, request.headers.get("authorization")
    ):
        return JSONResponse(
            {"error": "a monitoring token is required (security.health_token or an API token)"},
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )
    return Response(await hub.metrics.render(), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics, methods=["GET"])]
