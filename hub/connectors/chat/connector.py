"""The chat connector: the widget's websocket, uploads, files, and live fan-out.

One bus subscription feeds every socket: events are looked up by customer id
and serialised once per event, whatever the number of sockets. Sends from the
outbox only report status (the widget already got the reply from the bus):
``delivered`` when the visitor has a socket open, else ``sent`` (it is in the
history the widget loads on its next visit).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.routing import Route, WebSocketRoute

from hub.bus import Bus, BusMessage, Resync, Topic
from hub.connectors.base import (
    Capabilities,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    IdentityLinker,
    InboundMessage,
    IngestResult,
    OutboundMessage,
    SendResult,
    TimelineReader,
)
from hub.connectors.chat import files
from hub.connectors.chat.protocol import CHANNEL, IdentifyFrame, dumps, event_frame, visible
from hub.connectors.chat.session import POLICY, Session
from hub.connectors.chat.settings import ChatSettings, SiteSettings, served_hosts
from hub.connectors.chat.visitors import (
    CHAT_KIND,
    USER_KIND,
    RateLimiter,
    Visitor,
    email_subject,
    issue_visitor,
    user_hash_ok,
)
from hub.errors import ConfigError, InvalidIdentity
from hub.signing import Signer
from hub.timeline.model import Attachment, Customer, DeliveryStatus, Event, EventKind, Identity
from hub.timeline.model import normalise_identity as normalise
from hub.timeline.store import encode_cursor

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.routing import BaseRoute
    from starlette.websockets import WebSocket

__all__ = ["ChatConnector"]

_TOPICS = {Topic.EVENT_CREATED, Topic.TYPING, Topic.READ, Topic.AGENT_PRESENCE}


class ChatConnector(Connector):
    """The website chat widget's channel (``chat:<visitor id>``)."""

    name: ClassVar[str] = "chat"
    identity_kind: ClassVar[str | None] = CHAT_KIND
    capabilities: ClassVar[Capabilities] = Capabilities(
        text_limit=5000,
        attachments=True,
        max_attachment_bytes=1_000_000,
        typing=True,
        read_receipts=True,
    )
    settings_model: ClassVar[type[ConnectorSettings]] = ChatSettings
    enabled_by_default: ClassVar[bool] = True

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, ChatSettings)
        if context.signer is None or context.bus is None or context.timeline is None:
            raise ConfigError("the chat connector needs the hub's signer, bus and timeline")
        self.config = settings
        self.signer: Signer = context.signer
        self.bus: Bus = context.bus
        self.timeline: TimelineReader = context.timeline
        self.linker: IdentityLinker | None = context.link_verified
        self.limiter = RateLimiter(settings.rate_burst, settings.rate_per_second)
        self.by_customer: dict[str, set[Session]] = {}
        self.sessions: dict[Session, str | None] = {}
        self._agents: dict[str, float] = {}
        self._was_online = self.online
        self._watcher: asyncio.Task[None] | None = None
        self._reports: set[asyncio.Future[Any]] = set()

    def routes(self) -> Sequence[BaseRoute]:
        return [
            WebSocketRoute("/ws", self.websocket),
            Route("/uploads", self.upload, methods=["POST", "OPTIONS"]),
            Route("/files/{token}", self.file, methods=["GET"]),
        ]

    async def start(self) -> None:
        if self._watcher is None:
            await self._agents_everywhere()
            self._watcher = asyncio.create_task(self._watch(), name="chat-fanout")

    async def _agents_everywhere(self) -> None:
        """Learn who is online on any instance (at start, and after missing messages)."""
        if self.context.agents_online is None:
            return
        try:
            online = await self.context.agents_online()
        except Exception:  # the next presence message or heartbeat tells us
            self.context.logger.exception("chat: reading agent presence failed")
            return
        for agent in online:
            self._presence({"agent": agent, "online": True})

    async def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await session.ws.close(1001, "server shutting down")
            await session.halt()  # nothing of a session outlives stop()

    # -- sockets ---------------------------------------------------------------
    def site(self, name: str) -> SiteSettings | None:
        return self.config.site(name, self.context.public_url)

    async def websocket(self, websocket: WebSocket) -> None:
        """``/connectors/chat/ws?site=…``: check the origin, then run a session."""
        await websocket.accept()
        name = websocket.query_params.get("site", "default")
        site = self.site(name)
        if site is None:
            await websocket.close(POLICY, "unknown site")
            return
        origin = websocket.headers.get("origin")
        if not site.allows(origin, served_hosts(websocket.headers)):
            self._refused(name, origin)
            await websocket.close(POLICY, "origin not allowed")
            return
        await Session(self, websocket, name, site).run()

    def _refused(self, site: str, origin: str | None) -> None:
        hint = (
            "set OMNIHUB_PUBLIC_URL to the hub's address"
            if site == "default" and not self.config.sites
            else f"add it to [connectors.chat.sites.{site}] origins"
        )
        self.context.logger.warning(
            "chat: origin %s refused for site %s (%s)",
            origin or "(none)",
            site,
            hint,
            extra={"site": site, "origin": origin},
        )

    def register(self, session: Session, customer_id: str | None) -> None:
        """File ``session`` under ``customer_id`` for live events."""
        self.unregister(session)
        self.sessions[session] = customer_id
        session.customer_id = customer_id
        if customer_id is not None:
            self.by_customer.setdefault(customer_id, set()).add(session)

    def unregister(self, session: Session) -> None:
        customer_id = self.sessions.pop(session, None)
        if customer_id is not None:
            group = self.by_customer.get(customer_id)
            if group is not None:
                group.discard(session)
                if not group:
                    del self.by_customer[customer_id]

    def spend(self, budget: str, websocket: WebSocket) -> bool:
        """One unit of the hub's per-client ``budget`` (``context.client_budget``)."""
        spend = self.context.client_budget
        return spend is None or spend(budget, websocket)

    # -- fan-out ---------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            with self.bus.subscribe(lambda m: m.topic in _TOPICS, maxsize=10_000) as sub:
                async for message in sub:
                    if isinstance(message, Resync):
                        for session in self.sessions:
                            session.resync()
                        await self._agents_everywhere()
                        continue
                    try:
                        self.dispatch(message)
                    except Exception:  # one bad message must not stop the fan-out
                        self.context.logger.exception("chat: dispatch failed")
            await asyncio.sleep(0)

    def dispatch(self, message: BusMessage) -> None:
        """Hand one bus message to the sockets of its customer."""
        if message.topic == Topic.AGENT_PRESENCE:
            self._presence(message.data)
            return
        group = self.by_customer.get(message.customer_id)
        if not group:
            return
        seq = 0
        if message.topic == Topic.EVENT_CREATED:
            event = message.event
            if event is None or not self.shows(event):
                return
            seq = event.seq
            self._delivered(event)
            frame: dict[str, Any] = {
                "type": "event",
                "event": self.frame_of(event),
                "cursor": self.cursor_for(event.seq),
            }
        elif message.topic == Topic.TYPING and message.data.get("from") == "agent":
            if message.data.get("channel") not in (None, CHANNEL):
                return  # an agent writing an SMS or an email is not typing in the chat
            frame = {
                "type": "typing",
                "typing": bool(message.data.get("typing")),
                "name": message.data.get("name"),
            }
        elif message.topic == Topic.READ:
            frame = {"type": "read", "up_to": message.data.get("up_to")}
            frame["name"] = message.data.get("name")
            if isinstance(message.data.get("seq"), int):
                frame["seq"] = message.data["seq"]  # up_to may be on another channel
        else:
            return
        text = dumps(frame)
        for session in list(group):
            session.push(seq, text)

    def _delivered(self, event: Event) -> None:
        """A reply reaching a live socket here is delivered, whichever instance's
        outbox sends it (an early status waits for the send, and never goes back)."""
        delivery = event.delivery
        if event.channel != CHANNEL or delivery is None or delivery.status.final:
            return
        report = self.context.report_delivery(CHANNEL, event.id, DeliveryStatus.DELIVERED)
        task = asyncio.ensure_future(report)
        self._reports.add(task)
        task.add_done_callback(self._reported)

    def _reported(self, task: asyncio.Future[Any]) -> None:
        self._reports.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.context.logger.warning("chat: recording a delivery failed: %s", task.exception())

    def _presence(self, data: dict[str, Any]) -> None:
        agent = str(data.get("agent", ""))
        if data.get("online"):
            ttl = self.config.presence_ttl_seconds
            self._agents[agent] = time.monotonic() + ttl
            # An instance that stops without a word (crashed) stops renewing: lapse then.
            asyncio.get_running_loop().call_later(ttl + 0.05, self._tell_presence)
        else:
            self._agents.pop(agent, None)
        self._tell_presence()

    def _tell_presence(self) -> None:
        """Tell every socket when being online changed."""
        online = self.online
        if online != self._was_online:
            self._was_online = online
            text = dumps({"type": "presence", "online": online})
            for session in self.sessions:
                session.push(0, text)

    @property
    def online(self) -> bool:
        """Whether an agent is there to answer (``availability``, else agent presence)."""
        if self.config.availability != "auto":
            return self.config.availability == "online"
        now = time.monotonic()
        return any(until > now for until in self._agents.values())

    @staticmethod
    def shows(event: Event) -> bool:
        return visible(event)

    @staticmethod
    def cursor_for(seq: int) -> str:
        """The timeline cursor just after ``seq`` (both stores page events by seq)."""
        return encode_cursor(seq)

    def frame_of(self, event: Event) -> dict[str, Any]:
        return event_frame(event, lambda a: files.file_url(self.signer, a))

    @staticmethod
    def identified(customer: Customer | None) -> bool:
        return customer is not None and any(i.kind != CHAT_KIND for i in customer.identities)

    # -- writes (through the hub) ------------------------------------------------
    async def ingest(self, message: InboundMessage) -> IngestResult:
        return await self.context.ingest(message)

    def uploaded(self, ref: str, visitor: Visitor, frame_id: str) -> Attachment:
        return files.read_ref(self.signer, ref, visitor, frame_id)

    async def identify(
        self, visitor: Visitor, site: SiteSettings, frame: IdentifyFrame
    ) -> tuple[Visitor, Customer] | None:
        """Link ``visitor`` to the site's signed-in user, or ``None`` (nothing linked)."""
        secret = site.identity_secret
        subject = frame.user_id or frame.email
        if secret is None or self.linker is None or subject is None:
            return None
        if not user_hash_ok(secret.get_secret_value(), subject, frame.user_hash):
            return None
        try:
            if frame.user_id:
                if any(c.isspace() or not c.isprintable() for c in frame.user_id):
                    return None
                verified = Identity(USER_KIND, f"{visitor.site}:{frame.user_id}")
            else:
                verified = normalise("email", subject)
            email = normalise("email", frame.email).value if frame.email else None
        except InvalidIdentity:
            return None
        current = await self.timeline.find_customer(visitor.identity)
        if current is not None and self.identified(current) and verified not in current.identities:
            # This browser belongs to someone else (shared device): start afresh.
            visitor = issue_visitor(self.signer, visitor.site)
        attributes = {"email": email} if email and frame.user_id else None
        customer = await self.linker(
            visitor.identity,
            verified,
            by=f"chat widget identify (site {visitor.site}, user_hash verified)",
            name=frame.name,
            attributes=attributes,
        )
        if email and frame.user_id:
            customer = await self._identify_email(visitor, verified, frame, email, secret)
        return visitor, customer

    async def _identify_email(
        self, visitor: Visitor, verified: Identity, frame: IdentifyFrame, email: str, secret: Any
    ) -> Customer:
        """A signed-in user's email: linked when the site signed it too (``email_hash``
        of ``"<user_id>|<email>"``), else only a suggestion for an agent."""
        assert self.linker is not None
        assert frame.user_id is not None
        subject = email_subject(frame.user_id, email)
        if frame.email_hash and user_hash_ok(secret.get_secret_value(), subject, frame.email_hash):
            return await self.linker(
                normalise("email", email),
                verified,
                by=f"chat widget identify (site {visitor.site}, email_hash verified)",
            )
        await self.ingest(
            InboundMessage(
                channel=CHANNEL,
                external_id=f"{visitor.id}:identify:{email}",
                identity=visitor.identity,
                kind=EventKind.STATUS,
                text=f"Signed in on the site with the email {email} (not signed by the site)",
                meta={"claimed_email": email, "verified": False, "site": visitor.site},
            )
        )
        customer = await self.timeline.find_customer(visitor.identity)
        assert customer is not None
        return customer

    async def send(self, message: OutboundMessage) -> SendResult:
        live = any(not s.gone for s in self.by_customer.get(message.customer_id, ()))
        status = DeliveryStatus.DELIVERED if live else DeliveryStatus.SENT
        return SendResult(provider_id=message.event_id, status=status)

    # -- HTTP --------------------------------------------------------------------
    async def upload(self, request: Any) -> Any:
        return await files.upload(self, request)

    async def file(self, request: Any) -> Any:
        return await files.serve(self, request)
