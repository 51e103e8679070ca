"""``ConnectorKit``: the conformance suite a connector subclasses.

Each test runs a real hub (SQLite, pipeline, outbox) with only the connector
under test, pointed at the author's provider double, and checks what a user
would notice: every recorded payload becomes the expected timeline events,
a replay stores nothing new, forged inbound traffic (a forged or unsigned
webhook, a forged token on a socket) is refused and stores nothing, a reply
reaches the provider, transient failures are retried and
permanent ones fail the delivery at once, declared limits are enforced before
anything is sent, secrets never show in ``repr``, logs or delivery errors,
and ``start``/``stop`` can run twice without leaking tasks.

A check that cannot apply to a connector (a channel whose ``send`` never
fails has no failures to retry) is declared in ``not_applicable`` with the
reason; the test is reported as skipped with that reason.
"""

from __future__ import annotations

import asyncio
import inspect
import re

import pytest

from hub.connectors.base import ConnectorSettings
from hub.errors import PermanentError, TransientError
from hub.pipeline import SendRejected
from hub.testing.base import Inbound, KitBase, Webhook
from hub.testing.checks import check_invariants, started_by, to_json
from hub.testing.fixtures import Fixture, describe, mismatches
from hub.testing.provider import Failure, ProviderDouble
from hub.testing.rig import KitHub
from hub.timeline.model import Attachment, DeliveryStatus, Direction

__all__ = ["ConnectorKit", "Inbound", "Webhook", "handed_over"]

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_FAILURE_TESTS: dict[Failure, str] = {
    "transient": "test_transient_failure_is_retried",
    "permanent": "test_permanent_failure_fails_the_delivery",
}


def handed_over(status: DeliveryStatus | None) -> bool:
    """Whether the connector handed the message on (``sent``, or beyond when it
    knows more at once: a live socket makes it ``delivered``)."""
    return status is not None and status.final and status is not DeliveryStatus.FAILED


class ConnectorKit(KitBase):
    """Subclass as ``TestMyConnector(ConnectorKit)`` in a test module; enable the
    plugin with ``pytest_plugins = ["hub.testing"]`` in ``conftest.py``.
    What to declare and implement: :class:`~hub.testing.base.KitBase`."""

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
        suite = {n for n in dir(ConnectorKit) if n.startswith("test_")}
        for test, reason in self.not_applicable.items():
            assert test in suite, f"not_applicable names {test!r}, not a kit test"
            assert test != "test_declarations", "the declarations always apply"
            assert reason.strip(), f"{test}: give the reason it does not apply"
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
        """Forged inbound traffic is refused (webhooks: forged, unsigned and tampered
        requests get 403); nothing is stored."""
        if self.inbound in ("source", "none"):
            pytest.skip(f"inbound = {self.inbound!r}: no sender credentials to forge")
        tried = await self.forge(kit_hub, kit_fixture)
        assert tried, f"{type(self).__name__}.forge() tried no forgery"
        assert await kit_hub.stored() == [], f"forged traffic ({', '.join(tried)}) stored events"
        assert kit_hub.published == []

    @pytest.mark.asyncio
    async def test_reply_reaches_the_provider(
        self, kit_hub: KitHub, kit_provider: ProviderDouble, kit_channel: str
    ) -> None:
        """A reply queued on the timeline is handed to the provider and marked sent."""
        text = f"kit-reply-{kit_channel}-0123456789"
        event = await self.reply(kit_hub, kit_channel, text)
        assert event.delivery is not None
        assert handed_over(event.delivery.status), event.delivery
        await self.received(kit_hub, kit_provider, text)

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
        await kit_hub.until(lambda: handed_over(kit_hub.delivery(event.id)))

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
            assert handed_over(event.delivery.status), event.delivery
            await self.received(kit_hub, kit_provider, whole)

    @pytest.mark.asyncio
    async def test_secrets_never_shown(self, kit_hub: KitHub, kit_provider: ProviderDouble) -> None:
        """No secret in ``repr``, logs (at DEBUG) or delivery errors, whatever happened."""
        connector = kit_hub.connector
        secrets = self.secrets(connector.settings)
        if not secrets:
            pytest.skip("the settings hold no SecretStr")
        for fixture in self.load():
            await self.deliver(kit_hub, fixture)
            await self.forge(kit_hub, fixture)
        channels = self.send_channels or self.connector.channel_names()
        errors: list[str] = []
        failures = [f for f, t in _FAILURE_TESTS.items() if t not in self.not_applicable]
        for failure in (*failures, None):
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
        assert handed_over(event.delivery.status), event.delivery
        await connector.stop()
        await connector.stop()
        own = type(connector).__module__.rpartition(".")[0] or type(connector).__module__
        leaked = [t for t in asyncio.all_tasks() - before if not t.done() and started_by(t, own)]
        assert not leaked, f"still running after stop(): {leaked}"
        await connector.start()  # the hub stops it once more on shutdown
