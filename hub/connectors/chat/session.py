"""One widget websocket: hello, history and catch-up, then frames both ways.

Frames to the visitor go through a bounded queue drained by one writer task;
a session that falls behind drops its queue and catches up from its cursor
(the store is the truth, the queue only a shortcut). Acks and errors are sent
directly, under the same lock, so they are never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from hub.bus import BusMessage, Topic
from hub.connectors.base import InboundMessage
from hub.connectors.chat.protocol import (
    CHANNEL,
    FrameError,
    HelloFrame,
    HistoryFrame,
    IdentifyFrame,
    MessageFrame,
    OfflineEmailFrame,
    PingFrame,
    TypingFrame,
    dumps,
    frame_id_of,
    parse_frame,
)
from hub.connectors.chat.visitors import Visitor, issue_visitor, read_visitor
from hub.errors import HubError, InvalidIdentity
from hub.timeline.model import EventKind, normalise_identity
from hub.timeline.store import InvalidCursor

if TYPE_CHECKING:
    from hub.connectors.chat.connector import ChatConnector
    from hub.connectors.chat.settings import SiteSettings

__all__ = ["CATCH_UP", "Session"]

CATCH_UP = (-1, "")
"""Queue marker: the queue overflowed, re-read from the cursor."""

MESSAGE_TOO_BIG = 1009
POLICY = 1008
TRY_LATER = 1013


class Session:
    """The server side of one widget connection."""

    def __init__(
        self, connector: ChatConnector, websocket: WebSocket, site: str, settings: SiteSettings
    ) -> None:
        self.connector = connector
        self.ws = websocket
        self.site = site
        self.site_settings = settings
        self.config = connector.config
        self.visitor: Visitor | None = None
        self.customer_id: str | None = None
        self.context: dict[str, str] = {}
        self.cursor_seq = 0
        self.typing = False
        self.queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue(self.config.session_queue)
        self._lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self.gone = False
        self._refused = 0
        self._connection_key = f"connection:{id(self)}"
        """The socket closed: nothing sent to this session reaches the visitor."""

    # -- fan-out side (called by the connector) ------------------------------
    def push(self, seq: int, text: str) -> None:
        """Queue a frame (``seq`` > 0 for events); on overflow, catch up from the cursor."""
        try:
            self.queue.put_nowait((seq, text))
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(CATCH_UP)

    def resync(self) -> None:
        """Live delivery may have missed something: catch up from the cursor."""
        self.push(*CATCH_UP)

    # -- connection ------------------------------------------------------------
    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            await self.ws.send_text(dumps(frame))

    async def error(self, code: str, message: str, frame_id: str | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if frame_id is not None:
            frame["id"] = frame_id
        await self.send(frame)

    async def receive_text(self) -> str | None:
        """The next text frame; ``None`` once the socket closed (or was closed: too big)."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("text")
        if data is None:
            raw = message.get("bytes") or b""
            if len(raw) > self.config.max_frame_bytes:
                await self.ws.close(MESSAGE_TOO_BIG, "frame too large")
                return None
            data = raw.decode("utf-8", "replace")
        if len(data) > self.config.max_frame_bytes // 4 and (
            len(data.encode()) > self.config.max_frame_bytes
        ):
            await self.ws.close(MESSAGE_TOO_BIG, "frame too large")
            return None
        return data

    async def run(self) -> None:
        """Serve the connection until it closes."""
        try:
            async with asyncio.timeout(self.config.hello_timeout_seconds):
                hello = await self._hello()
        except TimeoutError:
            await self.ws.close(POLICY, "hello expected")
            return
        except WebSocketDisconnect:
            return
        if hello is None:
            return
        try:  # registered inside: a socket gone during start-up is never left behind
            await self._start(hello)
            self._writer = asyncio.create_task(self._write())
            while (text := await self.receive_text()) is not None:
                await self._handle(text)
        except WebSocketDisconnect:
            pass
        finally:
            self.gone = True
            self.connector.unregister(self)
            await self.halt()
            if self.typing:
                self._publish_typing(False)

    async def halt(self) -> None:
        """Stop writing to the socket (the hub is stopping and has closed it)."""
        writer = self._writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _admitted(self, text: str) -> bool:
        """Whether ``text`` may be handled: every frame (hello, ping, unparseable) takes a
        token from the visitor's bucket (this connection's before hello). A refused frame
        gets ``rate_limited``; a client that keeps going (twice ``rate_burst`` refused in
        a row) is closed with 1008."""
        key = self.visitor.id if self.visitor is not None else self._connection_key
        if self.connector.limiter.allow(key):
            self._refused = 0
            return True
        self._refused += 1
        if self._refused > 2 * self.config.rate_burst:
            await self.ws.close(POLICY, "rate limit exceeded")
            raise WebSocketDisconnect(POLICY)
        await self.error("rate_limited", "too many frames: slow down", frame_id_of(text))
        return False

    async def _hello(self) -> HelloFrame | None:
        while (text := await self.receive_text()) is not None:
            if not await self._admitted(text):
                continue
            try:
                frame = parse_frame(text)
            except FrameError as exc:
                await self.error(exc.code, exc.message, exc.frame_id)
                continue
            if isinstance(frame, HelloFrame):
                return frame
            await self.error("hello_first", "send a hello frame first")
        return None

    async def _start(self, hello: HelloFrame) -> None:
        signer = self.connector.signer
        max_age = self.config.visitor_token_days * 86400
        visitor = read_visitor(signer, self.site, hello.token, max_age)
        if visitor is None:
            if not self.connector.spend("new_visitor", self.ws):
                await self.error(
                    "too_many_visitors", "too many new visitors from this address: try later"
                )
                await self.ws.close(TRY_LATER, "too many new visitors")
                raise WebSocketDisconnect(TRY_LATER)
            visitor = issue_visitor(signer, self.site)
        self.visitor = visitor
        self.context = self._context(hello)
        customer = await self.connector.timeline.find_customer(self.visitor.identity)
        self.connector.register(self, customer.id if customer else None)
        await self._welcome(customer)
        if customer is None:
            await self.send({"type": "events", "events": [], "cursor": None, "reset": True})
        elif hello.cursor:
            await self._catch_up(hello.cursor)
        else:
            await self._latest()

    def _context(self, hello: HelloFrame) -> dict[str, str]:
        """What agents see about this visitor: the page (from ``hello``) and the browser."""
        found = hello.page.model_dump(exclude_none=True) if hello.page else {}
        agent = self.ws.headers.get("user-agent")
        if agent:
            found["user_agent"] = agent[:500]
        return found

    async def _welcome(self, customer: Any) -> None:
        assert self.visitor is not None
        await self.send(
            {
                "type": "welcome",
                "visitor": self.visitor.id,
                "token": self.visitor.token,
                "online": self.connector.online,
                "identified": self.connector.identified(customer),
                "name": customer.name if customer else None,
            }
        )

    async def _latest(self) -> None:
        assert self.customer_id is not None
        page = await self.connector.timeline.events(
            customer_id=self.customer_id, limit=self.config.history_limit
        )
        await self._send_events(page.items, page.newer, older=page.older, reset=True)

    async def _catch_up(self, cursor: str) -> None:
        assert self.customer_id is not None
        items = []
        try:
            while True:
                page = await self.connector.timeline.events(
                    customer_id=self.customer_id, cursor=cursor, direction="newer", limit=200
                )
                items.extend(page.items)
                cursor = page.newer
                if not page.has_newer:
                    break
                if len(items) > self.config.catch_up_limit:
                    await self._latest()
                    return
        except InvalidCursor:
            await self._latest()
            return
        await self._send_events(items, cursor, older=None, reset=False)

    async def _send_events(
        self, items: list[Any], cursor: str, *, older: str | None, reset: bool
    ) -> None:
        frames = [self.connector.frame_of(e) for e in items if self.connector.shows(e)]
        if items:
            self.cursor_seq = max(self.cursor_seq, items[-1].seq)
        await self.send(
            {"type": "events", "events": frames, "cursor": cursor, "older": older, "reset": reset}
        )

    async def _write(self) -> None:
        while True:
            seq, text = await self.queue.get()
            if (seq, text) == CATCH_UP:
                if self.customer_id is not None:
                    await self._catch_up(self.connector.cursor_for(self.cursor_seq))
                continue
            async with self._lock:
                await self.ws.send_text(text)
            self.cursor_seq = max(self.cursor_seq, seq)

    # -- client frames ---------------------------------------------------------
    async def _handle(self, text: str) -> None:
        if not await self._admitted(text):
            return
        try:
            frame = parse_frame(text)
        except FrameError as exc:
            await self.error(exc.code, exc.message, exc.frame_id)
            return
        if isinstance(frame, PingFrame):
            await self.send({"type": "pong"})
            return
        try:
            if isinstance(frame, MessageFrame):
                await self._message(frame)
            elif isinstance(frame, TypingFrame):
                self._typing(frame.typing)
            elif isinstance(frame, IdentifyFrame):
                await self._identify(frame)
            elif isinstance(frame, OfflineEmailFrame):
                await self._offline_email(frame)
            elif isinstance(frame, HistoryFrame):
                await self._history(frame)
            else:
                await self.error("bad_frame", "hello was already sent")
        except FrameError as exc:
            await self.error(exc.code, exc.message, exc.frame_id)

    async def _ingest(self, message: InboundMessage) -> Any:
        result = await self.connector.ingest(message)
        if result.event.customer_id != self.customer_id:
            self.connector.register(self, result.event.customer_id)
        return result

    async def _message(self, frame: MessageFrame) -> None:
        assert self.visitor is not None
        text = (frame.text or "").strip()
        if len(text) > self.config.max_text_chars:
            raise FrameError(
                "too_long", f"at most {self.config.max_text_chars} characters", frame.id
            )
        attachments = tuple(
            self.connector.uploaded(ref, self.visitor, frame.id) for ref in frame.attachments
        )
        if not text and not attachments:
            raise FrameError("empty", "a message needs text or an attachment", frame.id)
        self._spend_message(frame.id)
        result = await self._ingest(
            InboundMessage(
                channel=CHANNEL,
                external_id=f"{self.visitor.id}:{frame.id}",
                identity=self.visitor.identity,
                text=text or None,
                attachments=attachments,
                meta={"site": self.site, **({"visitor": self.context} if self.context else {})},
            )
        )
        self._typing(False)
        await self.send(
            {
                "type": "ack",
                "id": frame.id,
                "event": self.connector.frame_of(result.event),
                "duplicate": not result.created,
            }
        )

    def _spend_message(self, frame_id: str) -> None:
        if not self.connector.spend("visitor_message", self.ws):
            raise FrameError(
                "rate_limited", "too many messages from this address: slow down", frame_id
            )

    def _typing(self, typing: bool) -> None:
        if typing != self.typing and self.customer_id is not None:
            self.typing = typing
            self._publish_typing(typing)

    def _publish_typing(self, typing: bool) -> None:
        assert self.visitor is not None
        assert self.customer_id is not None
        data = {"from": "customer", "typing": typing, "channel": CHANNEL}
        data["visitor"] = self.visitor.id
        self.connector.bus.publish(BusMessage(Topic.TYPING, self.customer_id, data=data))

    async def _identify(self, frame: IdentifyFrame) -> None:
        assert self.visitor is not None
        linked = await self.connector.identify(self.visitor, self.site_settings, frame)
        if linked is None:
            raise FrameError("identify_refused", "user_hash does not match: nothing was linked")
        visitor, customer = linked
        if visitor != self.visitor:
            self.visitor = visitor
        self.connector.register(self, customer.id)
        await self._welcome(customer)
        await self.send({"type": "identified", "name": customer.name})
        await self._latest()

    async def _offline_email(self, frame: OfflineEmailFrame) -> None:
        assert self.visitor is not None
        try:
            email = normalise_identity("email", frame.email).value
        except InvalidIdentity:
            raise FrameError("bad_email", "not an email address", frame.id) from None
        self._spend_message(frame.id)
        await self._ingest(
            InboundMessage(
                channel=CHANNEL,
                external_id=f"{self.visitor.id}:{frame.id}",
                identity=self.visitor.identity,
                kind=EventKind.STATUS,
                text=f"Visitor asked to continue by email at {email} (unverified)",
                meta={"claimed_email": email, "verified": False, "site": self.site},
            )
        )
        await self.send({"type": "ack", "id": frame.id, "duplicate": False})

    async def _history(self, frame: HistoryFrame) -> None:
        if self.customer_id is None:
            await self.send({"type": "history", "events": [], "older": None})
            return
        try:
            page = await self.connector.timeline.events(
                customer_id=self.customer_id, cursor=frame.before, limit=self.config.history_limit
            )
        except (InvalidCursor, HubError):
            raise FrameError("bad_cursor", "not a cursor from this hub") from None
        events = [self.connector.frame_of(e) for e in page.items if self.connector.shows(e)]
        await self.send({"type": "history", "events": events, "older": page.older})
