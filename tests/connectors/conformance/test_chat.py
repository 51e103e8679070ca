"""The conformance kit over the built-in ``chat`` connector (the widget's websocket).

Inbound is ``inbound = "socket"``: :meth:`TestChatConnector.deliver` opens a real
websocket to the served hub, as the widget on the shop's page would, and sends
a recorded session's frames (``fixtures/chat``) with the visitor's token. The
far side of replies is the visitor's own socket (:class:`VisitorSocket`): a
reply "reaches the provider" when the widget receives it. Forgeries are a
forged or foreign visitor token, a page on another origin and a wrong
``user_hash``. Chat's ``send`` never fails (a reply to a visitor who is away
waits in the history their widget loads on the next visit), so the failure
tests are declared not applicable and that behaviour is tested here instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from hub.connectors import Connector
from hub.connectors.chat import ChatConnector
from hub.connectors.chat.visitors import TOKEN_PURPOSE, user_hash
from hub.signing import Signer
from hub.testing import ConnectorKit, Failure, Fixture, KitHub, ProviderDouble
from hub.timeline.model import DeliveryStatus

SITE = "shop"
ORIGIN = "https://shop.example.test"
IDENTITY_SECRET = "shop-identity-secret-0123456789"
NO_FAILURES = (
    "chat's send never fails: with no socket open the reply is stored as sent and "
    "shown on the visitor's next visit (test_reply_to_an_absent_visitor_waits_for_the_next_visit)"
)


def visitor_token(hub: KitHub, visitor: str, site: str = SITE, signer: Signer | None = None) -> str:
    """The token the widget keeps in localStorage for ``visitor`` on ``site``."""
    connector = hub.connector
    assert isinstance(connector, ChatConnector)
    return (signer or connector.signer).dumps(TOKEN_PURPOSE, {"v": visitor, "s": site})


async def next_frame(ws: ClientConnection, kind: str, within: float = 5.0) -> dict[str, Any]:
    """The next server frame of type ``kind`` (others are skipped)."""
    async with asyncio.timeout(within):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return dict(frame)


async def refused_origin(hub: KitHub, headers: dict[str, str]) -> int | None:
    """Open the socket with ``headers`` and send a hello; the close code the hub gave."""
    async with hub.websocket(f"ws?site={SITE}", additional_headers=headers) as ws:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "hello"}))
            await next_frame(ws, "welcome")
        return ws.close_code


class VisitorSocket:
    """The visitor's widget, connected to the hub: where chat replies arrive."""

    url = "ws (the visitor's browser)"

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def received(self) -> list[bytes]:
        """Agent replies the widget received, as the event frames it got."""
        return [
            json.dumps(f["event"]).encode()
            for f in self.frames
            if f["type"] == "event" and f["event"]["direction"] == "out"
        ]

    def fail(self, failure: Failure | None, *, times: int | None = None) -> None:
        if failure is not None:
            raise NotImplementedError(NO_FAILURES)

    async def attach(self, hub: KitHub, visitor: str) -> None:
        """Open the visitor's socket (again, after the hub closed it) and say hello."""
        if self._reader is not None and not self._reader.done():
            return
        await self.close()
        ws = await hub.websocket(f"ws?site={SITE}", origin=ORIGIN)
        await ws.send(json.dumps({"type": "hello", "token": visitor_token(hub, visitor)}))
        welcome = await next_frame(ws, "welcome")
        assert welcome["visitor"] == visitor, "the hub did not accept the visitor's own token"
        await next_frame(ws, "events")
        self._ws = ws
        self._reader = asyncio.create_task(self._read(hub, ws), name="kit-visitor-socket")

    async def _read(self, hub: KitHub, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                self.frames.append(json.loads(text))
                hub.notify()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._ws = self._reader = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[VisitorSocket]:
        try:
            yield self
        finally:
            await self.close()


class TestChatConnector(ConnectorKit):
    connector: ClassVar[type[Connector]] = ChatConnector
    fixtures = Path(__file__).parent / "fixtures" / "chat"
    inbound = "socket"
    not_applicable: ClassVar[dict[str, str]] = {
        "test_transient_failure_is_retried": NO_FAILURES,
        "test_permanent_failure_fails_the_delivery": NO_FAILURES,
    }

    def settings(self, provider: ProviderDouble) -> dict[str, Any]:
        sites = {SITE: {"origins": [ORIGIN], "identity_secret": IDENTITY_SECRET}}
        return {"sites": sites, "availability": "online"}

    def provider(self) -> Any:
        return VisitorSocket().running()

    def frames(self, hub: KitHub, fixture: Fixture) -> list[str]:
        """The recorded frames, with the visitor's token and the site's user_hash."""
        recorded = fixture.json()
        out = []
        for frame in recorded["frames"]:
            if frame.get("token") == "$VISITOR_TOKEN":
                frame["token"] = visitor_token(hub, recorded["visitor"])
            if frame.get("user_hash") == "$USER_HASH":
                frame["user_hash"] = user_hash(IDENTITY_SECRET, frame["user_id"] or frame["email"])
            out.append(json.dumps(frame))
        return out

    async def deliver(self, hub: KitHub, fixture: Fixture) -> None:
        """Replay the session on a real socket; done once the hub answered every frame."""
        async with hub.websocket(f"ws?site={SITE}", origin=ORIGIN) as ws:
            for text in self.frames(hub, fixture):
                await ws.send(text)
            await ws.send(json.dumps({"type": "ping"}))  # answered after every frame before it
            answers: list[dict[str, Any]] = []
            async with asyncio.timeout(10):
                while not answers or answers[-1]["type"] != "pong":
                    answers.append(json.loads(await ws.recv()))
        welcome = next(a for a in answers if a["type"] == "welcome")
        assert welcome["visitor"] == fixture.json()["visitor"], "the visitor's token was refused"
        sent = [json.loads(t).get("id") for t in self.frames(hub, fixture)]
        answered = {a.get("id") for a in answers if a["type"] in ("ack", "error")}
        assert {i for i in sent if i} <= answered, f"frames left unanswered: {answers}"

    async def forge(self, hub: KitHub, fixture: Fixture) -> list[str]:
        """A forged token or one minted for another site earns a fresh anonymous
        visitor, never the one it names; a page on another origin (or none) is
        closed with 1008; a wrong ``user_hash`` links nothing."""
        visitor = fixture.json()["visitor"]
        tokens = {
            "forged token": visitor_token(hub, visitor, signer=Signer(b"k" * 32)),
            "token of another site": visitor_token(hub, visitor, site="other"),
        }
        for label, token in tokens.items():
            async with hub.websocket(f"ws?site={SITE}", origin=ORIGIN) as ws:
                await ws.send(json.dumps({"type": "hello", "token": token}))
                welcome = await next_frame(ws, "welcome")
                assert welcome["visitor"] != visitor, f"{label}: accepted as {visitor}"
                assert welcome["token"] != token, f"{label}: the widget keeps a bad token"
        origins = {"foreign origin": {"Origin": "https://evil.example"}, "no origin": {}}
        for label, headers in origins.items():
            assert await refused_origin(hub, headers) == 1008, f"{label}: not refused"
        async with hub.websocket(f"ws?site={SITE}", origin=ORIGIN) as ws:
            await ws.send(json.dumps({"type": "hello", "token": visitor_token(hub, visitor)}))
            await next_frame(ws, "welcome")
            identify = {"type": "identify", "user_id": "u-7731", "user_hash": "0" * 64}
            await ws.send(json.dumps(identify))
            error = await next_frame(ws, "error")
            assert error["code"] == "identify_refused", error
        return [*tokens, *origins, "wrong user_hash"]

    async def recipient_ready(self, hub: KitHub, channel: str, conversation: str) -> None:
        assert isinstance(hub.provider, VisitorSocket)
        await hub.provider.attach(hub, self.recipient(channel).value)

    @pytest.mark.asyncio
    async def test_reply_to_an_absent_visitor_waits_for_the_next_visit(
        self, kit_hub: KitHub
    ) -> None:
        """With no socket open a reply is ``sent`` (not delivered) and the widget
        shows it when the visitor comes back; with the socket open, ``delivered``."""
        await self.deliver(kit_hub, self.load()[-1])  # text.json: v_kit_ana wrote, then left
        [inbound] = await kit_hub.stored()
        assert inbound.conversation_id is not None
        pipeline = kit_hub.hub.pipeline
        queued = await pipeline.send(inbound.conversation_id, text="It ships today.")
        away = await kit_hub.settled(queued.id)
        assert away.delivery is not None
        assert away.delivery.status is DeliveryStatus.SENT, away.delivery
        async with kit_hub.websocket(f"ws?site={SITE}", origin=ORIGIN) as ws:
            hello = {"type": "hello", "token": visitor_token(kit_hub, "v_kit_ana")}
            await ws.send(json.dumps(hello))
            history = await next_frame(ws, "events")
            assert [e["text"] for e in history["events"]] == [
                "Hi! Has my order #1042 shipped yet?",
                "It ships today.",
            ]
            queued = await pipeline.send(inbound.conversation_id, text="Tracking: PT1042.")
            live = await next_frame(ws, "event")
            assert live["event"]["text"] == "Tracking: PT1042."
            here = await kit_hub.settled(queued.id)
            assert here.delivery is not None
            assert here.delivery.status is DeliveryStatus.DELIVERED, here.delivery
