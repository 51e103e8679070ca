"""What a connector's kit declares and provides, and the helpers the suite uses.

:class:`~hub.testing.kit.ConnectorKit` adds the tests; authors subclass that.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx

from hub.connectors.base import (
    Channel,
    Connector,
    ConnectorSettings,
    InboundMessage,
    OutboundMessage,
)
from hub.testing.checks import secret_values
from hub.testing.fixtures import Fixture, load_fixtures
from hub.testing.provider import ProviderDouble, decoded
from hub.testing.rig import KitHub
from hub.timeline.model import Event, Identity

__all__ = ["Inbound", "KitBase", "Webhook"]

Inbound = Literal["webhook", "socket", "source", "none"]
"""How inbound traffic reaches the connector: provider webhooks; a connection
a client opens to the hub's routes (a websocket); a background source
``start()`` reads (IMAP, polling); or none."""


@dataclass(frozen=True)
class Webhook:
    """One HTTP request as the provider sends it: ``path`` is under
    ``/connectors/<name>/``; ``headers`` carry the signature."""

    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


class KitBase:
    """The author's side of :class:`~hub.testing.kit.ConnectorKit`: subclass that
    as ``TestMyConnector(ConnectorKit)``.

    Declare ``connector`` and ``fixtures`` (a folder of recorded payloads, see
    :mod:`hub.testing.fixtures`), and implement :meth:`settings`,
    :meth:`provider` and, for webhooks, :meth:`webhook`. A connector whose
    inbound traffic arrives on a connection a client opens to the hub (the chat
    widget's websocket) sets ``inbound = "socket"`` and implements
    :meth:`deliver` and :meth:`forge`; one whose inbound traffic comes from a
    background source started by ``start()`` (IMAP) sets ``inbound = "source"``
    and implements :meth:`deliver`; one with no inbound traffic sets
    ``inbound = "none"``.
    """

    connector: ClassVar[type[Connector]]
    fixtures: ClassVar[Path | None] = None
    inbound: ClassVar[Inbound] = "webhook"
    signature_headers: ClassVar[tuple[str, ...]] = ()
    """Headers that carry the signature: the kit removes them for the unsigned case."""
    signature_covers_body: ClassVar[bool] = True
    """False when the signature is a shared token that does not sign the body
    (Telegram): a tampered body then cannot be detected and is not tested."""
    send_channels: ClassVar[tuple[str, ...] | None] = None
    """Channels replies are tested on (default: all the connector serves)."""
    public_url: ClassVar[str] = "https://hub.example.test"
    not_applicable: ClassVar[Mapping[str, str]] = {}
    """Kit tests that cannot apply to this connector, by name, with the reason
    (``{"test_transient_failure_is_retried": "send never fails: …"}``); they
    are reported as skipped with it."""

    # -- what the author provides ------------------------------------------
    def settings(self, provider: ProviderDouble) -> dict[str, Any]:
        """The connector's settings table (as in ``omnihub.toml``), pointed at ``provider``."""
        raise NotImplementedError(f"{type(self).__name__}.settings(provider)")

    def provider(self) -> AbstractAsyncContextManager[ProviderDouble]:
        """The provider double, entered for each test (e.g. ``HttpProvider(app)``)."""
        raise NotImplementedError(f"{type(self).__name__}.provider()")

    def webhook(self, fixture: Fixture, *, forged: bool = False) -> Webhook:
        """The request the provider sends for ``fixture``, signed with the configured
        secret, or with a wrong one when ``forged``."""
        raise NotImplementedError(f"{type(self).__name__}.webhook(fixture, forged=...)")

    async def deliver(self, hub: KitHub, fixture: Fixture) -> None:
        """Hand ``fixture`` to the running connector and return once it is processed.

        The default posts :meth:`webhook` and expects a 2xx answer. Override for
        ``inbound = "socket"``: open the connection (``hub.websocket``) and send
        the recorded frames, returning once the connector answered them; for
        ``inbound = "source"``: put the payload where the connector reads from,
        then wait (``hub.until``) until it has been handled.
        """
        if self.inbound != "webhook":
            raise NotImplementedError(f"inbound = {self.inbound!r}: override deliver()")
        response = await self.post(hub, self.webhook(fixture))
        assert response.is_success, (
            f"{fixture.name}: webhook answered {response.status_code}: {response.text[:300]}"
        )

    async def forge(self, hub: KitHub, fixture: Fixture) -> list[str]:
        """Present ``fixture`` with forged credentials in every way a sender could,
        assert each attempt was refused, and return what was tried (the kit then
        checks that nothing was stored).

        The default, for webhooks: ``forged`` (a wrong secret), ``unsigned``
        (``signature_headers`` removed) and ``tampered`` (body changed) requests
        must get 403. Override for ``inbound = "socket"`` (a forged token, a
        refused origin, …).
        """
        if self.inbound != "webhook":
            return []
        good = self.webhook(fixture)
        variants = {"forged": self.webhook(fixture, forged=True)}
        if self.signature_headers:
            drop = {h.lower() for h in self.signature_headers}
            headers = {k: v for k, v in good.headers.items() if k.lower() not in drop}
            assert headers != good.headers, f"none of {self.signature_headers} was sent"
            variants["unsigned"] = replace(good, headers=headers)
        if self.signature_covers_body:
            variants["tampered"] = replace(good, body=good.body + b" ")
        for label, webhook in variants.items():
            response = await self.post(hub, webhook)
            assert response.status_code == 403, f"{label}: answered {response.status_code}"
        return list(variants)

    async def recipient_ready(self, hub: KitHub, channel: str, conversation: str) -> None:
        """Called once the kit opened ``conversation`` with ``recipient(channel)``,
        before it queues replies. A connector that delivers to a live client of
        the hub rather than to a provider API (the chat widget's socket) connects
        its double (``hub.provider``) as the recipient here. Default: nothing."""

    def recipient(self, channel: str) -> Identity:
        """Whom replies on ``channel`` go to; by default the first customer an
        expectation names on that channel."""
        for fixture in self.load():
            for event in fixture.expected or ():
                if (
                    event.get("channel") == channel
                    and event.get("identity")
                    and event.get("direction", "in") == "in"
                ):
                    return Identity.parse(str(event["identity"]))
        raise NotImplementedError(
            f"no fixture expectation names a customer on {channel!r}: "
            f"override {type(self).__name__}.recipient(channel)"
        )

    def secrets(self, settings: ConnectorSettings) -> list[str]:
        """Values that must never be shown: every ``SecretStr`` in the settings."""
        return [s for s in secret_values(settings) if len(s) >= 6]

    # -- helpers -------------------------------------------------------------
    def load(self) -> list[Fixture]:
        """The recorded payloads in ``fixtures``."""
        return load_fixtures(self.fixtures) if self.fixtures is not None else []

    def public(self, path: str) -> str:
        """The public URL the provider calls for ``path`` (what URL signatures cover)."""
        return f"{self.public_url}/connectors/{self.connector.name}/{path.lstrip('/')}"

    async def post(self, hub: KitHub, webhook: Webhook) -> httpx.Response:
        """Send ``webhook`` to the running hub's loopback address."""
        return await hub.client.request(
            webhook.method,
            f"/connectors/{self.connector.name}/{webhook.path.lstrip('/')}",
            content=webhook.body,
            headers=webhook.headers,
        )

    async def received(self, hub: KitHub, provider: ProviderDouble, text: str) -> None:
        """Wait until ``provider`` has received ``text`` (a double that receives
        asynchronously, like a socket, calls ``hub.notify()`` on arrival)."""

        def arrived() -> bool:
            return any(text in decoded(body) for body in provider.received)

        try:
            await hub.until(arrived, within=5.0)
        except TimeoutError:
            raise AssertionError(f"the provider never received {text[:40]!r}…") from None

    def channel(self, name: str) -> Channel:
        """The declared spec of channel ``name``."""
        return {c.name: c for c in self.connector.channel_specs()}[name]

    async def conversation(self, hub: KitHub, channel: str) -> str:
        """A conversation with the channel's recipient, opened by an inbound message."""
        result = await hub.hub.pipeline.ingest(
            InboundMessage(
                channel=channel,
                external_id=f"kit-seed-{channel}",
                identity=self.recipient(channel),
                text="hello from the kit",
            )
        )
        conversation = result.event.conversation_id
        assert conversation is not None
        await self.recipient_ready(hub, channel, conversation)
        return conversation

    async def reply(self, hub: KitHub, channel: str, text: str) -> Event:
        """Queue ``text`` on ``channel`` through the pipeline; the event once attempted."""
        conversation = await self.conversation(hub, channel)
        queued = await hub.hub.pipeline.send(conversation, text=text, channel=channel)
        return await hub.settled(queued.id)

    def outbound(self, channel: str, text: str) -> OutboundMessage:
        """A message for ``connector.send`` directly."""
        return OutboundMessage(
            event_id=f"evt_kit{abs(hash((channel, text))):x}",
            channel=channel,
            to=self.recipient(channel),
            customer_id="cus_kit",
            conversation_id=None,
            text=text,
        )
