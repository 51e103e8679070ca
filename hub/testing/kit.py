"""``ConnectorKit``: the conformance suite a connector subclasses.

Each test runs a real hub (SQLite, pipeline, outbox) with only the connector
under test, pointed at the author's provider double, and checks what a user
would notice: every recorded payload becomes the expected timeline events,
a replay stores nothing new, a forged or unsigned webhook is a 403 that stores
nothing, a reply reaches the provider, transient failures are retried and
permanent ones fail the delivery at once, declared limits are enforced before
anything is sent, secrets never show in ``repr``, logs or delivery errors,
and ``start``/``stop`` can run twice without leaking tasks.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import pytest

from hub.connectors.base import (
    Channel,
    Connector,
    ConnectorSettings,
    InboundMessage,
    OutboundMessage,
)
from hub.errors import PermanentError, TransientError
from hub.pipeline import SendRejected
from hub.testing.checks import check_invariants, secret_values, started_by, to_json
from hub.testing.fixtures import Fixture, describe, load_fixtures, mismatches
from hub.testing.provider import ProviderDouble, decoded
from hub.testing.rig import KitHub
from hub.timeline.model import Attachment, DeliveryStatus, Direction, Event, Identity

__all__ = ["ConnectorKit", "Webhook"]

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Webhook:
    """One HTTP request as the provider sends it: ``path`` is under
    ``/connectors/<name>/``; ``headers`` carry the signature."""

    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


class ConnectorKit:
    """Subclass as ``TestMyConnector(ConnectorKit)`` in a test module; enable the
    plugin with ``pytest_plugins = ["hub.testing"]`` in ``conftest.py``.

    Declare ``connector`` and ``fixtures`` (a folder of recorded payloads, see
    :mod:`hub.testing.fixtures`), and implement :meth:`settings`,
    :meth:`provider` and, for webhooks, :meth:`webhook`. A connector whose
    inbound traffic comes from a background source started by ``start()``
    (IMAP, a socket) sets ``inbound = "source"`` and implements :meth:`deliver`;
    one with no inbound traffic sets ``inbound = "none"``.
    """

    connector: ClassVar[type[Connector]]
    fixtures: ClassVar[Path | None] = None
    inbound: ClassVar[Literal["webhook", "source", "none"]] = "webhook"
    signature_headers: ClassVar[tuple[str, ...]] = ()
    """Headers that carry the signature: the kit removes them for the unsigned case."""
    signature_covers_body: ClassVar[bool] = True
    """False when the signature is a shared token that does not sign the body
    (Telegram): a tampered body then cannot be detected and is not tested."""
    send_channels: ClassVar[tuple[str, ...] | None] = None
    """Channels replies are tested on (default: all the connector serves)."""
    public_url: ClassVar[str] = "https://hub.example.test"

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
        ``inbound = "source"``: put the payload where the connector reads from,
        then wait (``hub.until``) until it has been handled.
        """
        response = await self.post(hub, self.webhook(fixture))
        assert response.is_success, (
            f"{fixture.name}: webhook answered {response.status_code}: {response.text[:300]}"
        )

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
        assert result.event.conversation_id is not None
        return result.event.conversation_id

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

    # -- the suite -----------------------------------------------------------
    def test_declarations(self) -> None:
        """Name, channels, settings model and capabilities are well-formed."""
        cls = self.connector
        assert isinstance(cls.name, str)
        assert _NAME.fullmatch(cls.name), (
            f"name {cls.name!r}: lower-case letters, digits, - and _ (it is a URL segment)"
        )
        assert not inspect.isabstract(cls), f"{cls.__name__} does not implement send()"
        assert issubclass(cls.settings_model, ConnectorSettings)
        specs = cls.channel_specs()
        assert len({s.name for s in specs}) == len(specs), "channel names repeat"
        for spec in specs:
            caps = spec.capabilities
            assert caps.text_limit is None or caps.text_limit > 0, spec
            assert caps.window_escape is None or caps.reply_window is not None, (
                f"{spec.name}: a window_escape without a reply_window"
            )
            assert caps.max_attachment_bytes is None or caps.attachments, (
                f"{spec.name}: max_attachment_bytes without attachments"
            )
        if self.inbound != "none":
            assert self.fixtures is not None
            assert self.fixtures.is_dir(), f"fixtures folder {self.fixtures} is missing"
            assert self.load(), f"no recorded payloads in {self.fixtures}"

    @pytest.mark.asyncio
    async def test_fixture_normalised(self, kit_hub: KitHub, kit_fixture: Fixture) -> None:
        """The payload becomes exactly the expected events, well-formed."""
        await self.deliver(kit_hub, kit_fixture)
        stored = await kit_hub.stored()
        names = {}
        for event in stored:
            customer = await kit_hub.hub.store.get_customer(event.customer_id)
            names[event.id] = customer.name
            check_invariants(self.connector, event)
        actual = [describe(e, names[e.id]) for e in stored]
        if kit_fixture.expected is None:
            pytest.fail(
                f"{kit_fixture.path.name} has no {kit_fixture.name}.expected.json; it stored:\n"
                + to_json(actual)
            )
        problems = mismatches(kit_fixture.expected, actual)
        assert not problems, "\n".join([*problems, "stored:", to_json(actual)])

    @pytest.mark.asyncio
    async def test_fixture_replay_stores_once(self, kit_hub: KitHub, kit_fixture: Fixture) -> None:
        """The provider retrying a payload (or a source re-reading it) adds nothing."""
        await self.deliver(kit_hub, kit_fixture)
        first = [e.id for e in await kit_hub.stored()]
        published = len(kit_hub.published)
        await self.deliver(kit_hub, kit_fixture)
        assert [e.id for e in await kit_hub.stored()] == first
        assert len(kit_hub.published) == published, "a replay published new events"

    @pytest.mark.asyncio
    async def test_bad_signature_refused(self, kit_hub: KitHub, kit_fixture: Fixture) -> None:
        """Forged, unsigned and tampered webhooks are refused with 403; nothing is stored."""
        if self.inbound != "webhook":
            pytest.skip(f"inbound = {self.inbound!r}: no webhook to sign")
        good = self.webhook(kit_fixture)
        variants = {"forged": self.webhook(kit_fixture, forged=True)}
        if self.signature_headers:
            drop = {h.lower() for h in self.signature_headers}
            headers = {k: v for k, v in good.headers.items() if k.lower() not in drop}
            assert headers != good.headers, f"none of {self.signature_headers} was sent"
            variants["unsigned"] = replace(good, headers=headers)
        if self.signature_covers_body:
            variants["tampered"] = replace(good, body=good.body + b" ")
        for label, webhook in variants.items():
            response = await self.post(kit_hub, webhook)
            assert response.status_code == 403, f"{label}: answered {response.status_code}"
        assert await kit_hub.stored() == [], "a refused webhook stored events"
        assert kit_hub.published == []

    @pytest.mark.asyncio
    async def test_reply_reaches_the_provider(
        self, kit_hub: KitHub, kit_provider: ProviderDouble, kit_channel: str
    ) -> None:
        """A reply queued on the timeline is handed to the provider and marked sent."""
        text = f"kit-reply-{kit_channel}-0123456789"
        event = await self.reply(kit_hub, kit_channel, text)
        assert event.delivery is not None
        assert event.delivery.status is DeliveryStatus.SENT, event.delivery
        assert any(text in decoded(body) for body in kit_provider.received), (
            "the provider never received the reply text"
        )

    @pytest.mark.asyncio
    async def test_transient_failure_is_retried(
        self, kit_hub: KitHub, kit_provider: ProviderDouble, kit_channel: str
    ) -> None:
        """A provider outage raises TransientError; the outbox retries and then delivers."""
        kit_provider.fail("transient")
        with pytest.raises(TransientError):
            await kit_hub.connector.send(self.outbound(kit_channel, "kit-direct"))
        event = await self.reply(kit_hub, kit_channel, "kit-retried-0123456789")
        assert event.delivery is not None
        assert event.delivery.status is DeliveryStatus.QUEUED, event.delivery
        assert event.delivery.error, "a retry without the reason"
        kit_provider.fail(None)
        await kit_hub.until(lambda: kit_hub.delivery(event.id) is DeliveryStatus.SENT)

    @pytest.mark.asyncio
    async def test_permanent_failure_fails_the_delivery(
        self, kit_hub: KitHub, kit_provider: ProviderDouble, kit_channel: str
    ) -> None:
        """A refusal for good raises PermanentError; the delivery fails after one attempt."""
        kit_provider.fail("permanent")
        with pytest.raises(PermanentError):
            await kit_hub.connector.send(self.outbound(kit_channel, "kit-direct"))
        event = await self.reply(kit_hub, kit_channel, "kit-refused-0123456789")
        assert event.delivery is not None
        assert event.delivery.status is DeliveryStatus.FAILED, event.delivery
        assert event.delivery.attempts == 1
        assert event.delivery.error, "a failure without the reason"

    @pytest.mark.asyncio
    async def test_capabilities_honoured(
        self, kit_hub: KitHub, kit_provider: ProviderDouble, kit_channel: str
    ) -> None:
        """Over-long text and unsupported attachments are refused before anything is
        sent; text at the declared limit is delivered whole."""
        caps = self.channel(kit_channel).capabilities
        if caps.text_limit is None and caps.attachments:
            pytest.skip(f"{kit_channel} declares no text limit and takes attachments")
        conversation = await self.conversation(kit_hub, kit_channel)
        pipeline = kit_hub.hub.pipeline
        if caps.text_limit is not None:
            with pytest.raises(SendRejected, match="characters"):
                await pipeline.send(
                    conversation, text="k" * (caps.text_limit + 1), channel=kit_channel
                )
        if not caps.attachments:
            file = Attachment("blob_kit", "kit.txt", "text/plain", 3)
            with pytest.raises(SendRejected, match="attachments"):
                await pipeline.send(
                    conversation, text="file", attachments=[file], channel=kit_channel
                )
        assert not kit_provider.received, "the provider got a refused message"
        assert not [e for e in kit_hub.published if e.direction is Direction.OUT]
        if caps.text_limit is not None:
            whole = "k" * caps.text_limit
            queued = await pipeline.send(conversation, text=whole, channel=kit_channel)
            event = await kit_hub.settled(queued.id)
            assert event.delivery is not None
            assert event.delivery.status is DeliveryStatus.SENT, event.delivery
            assert any(whole in decoded(body) for body in kit_provider.received)

    @pytest.mark.asyncio
    async def test_secrets_never_shown(self, kit_hub: KitHub, kit_provider: ProviderDouble) -> None:
        """No secret in ``repr``, logs (at DEBUG) or delivery errors, whatever happened."""
        connector = kit_hub.connector
        secrets = self.secrets(connector.settings)
        if not secrets:
            pytest.skip("the settings hold no SecretStr")
        for fixture in self.load():
            await self.deliver(kit_hub, fixture)
            if self.inbound == "webhook":
                await self.post(kit_hub, self.webhook(fixture, forged=True))
        channels = self.send_channels or self.connector.channel_names()
        errors: list[str] = []
        for failure in ("transient", "permanent", None):
            kit_provider.fail(failure)
            event = await self.reply(kit_hub, channels[0], f"kit-secret-{failure}-0123")
            errors.append((event.delivery.error if event.delivery else None) or "")
        kit_provider.fail(None)
        shown = {
            "repr(connector)": repr(connector),
            "repr(settings)": repr(connector.settings),
            "str(settings)": str(connector.settings),
            "settings as JSON": connector.settings.model_dump_json(),
            "delivery errors": "\n".join(errors),
            "logs": kit_hub.log_text(),
        }
        for where, text in shown.items():
            for secret in secrets:
                assert secret not in text, f"a secret ({secret[:3]}…) shows in {where}"

    @pytest.mark.asyncio
    async def test_start_stop_twice(self, kit_hub: KitHub) -> None:
        """``stop`` twice is harmless; after a restart the connector works; nothing
        it started keeps running after ``stop``."""
        connector = kit_hub.connector
        await connector.stop()
        await connector.stop()
        before = asyncio.all_tasks()
        await connector.start()
        fixtures = self.load()
        if fixtures:
            await self.deliver(kit_hub, fixtures[0])
        channels = self.send_channels or self.connector.channel_names()
        event = await self.reply(kit_hub, channels[0], "kit-after-restart-0123")
        assert event.delivery is not None
        assert event.delivery.status is DeliveryStatus.SENT, event.delivery
        await connector.stop()
        await connector.stop()
        own = type(connector).__module__.rpartition(".")[0] or type(connector).__module__
        leaked = [t for t in asyncio.all_tasks() - before if not t.done() and started_by(t, own)]
        assert not leaked, f"still running after stop(): {leaked}"
        await connector.start()  # the hub stops it once more on shutdown
