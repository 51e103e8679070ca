"""``hub.testing``: the connector conformance kit, a pytest plugin.

Enable it with one line in your ``conftest.py``::

    pytest_plugins = ["hub.testing"]

then subclass :class:`ConnectorKit` in a test module (see ``docs/connectors.md``)::

    class TestLine(ConnectorKit):
        connector = LineConnector
        fixtures = Path(__file__).parent / "fixtures"
        signature_headers = ("X-Line-Signature",)

        def settings(self, provider): ...
        def provider(self): return HttpProvider(line_api_double())
        def webhook(self, fixture, *, forged=False): ...

The plugin parametrises the suite over every recorded payload
(``kit_fixture``) and every reply channel (``kit_channel``), and provides the
running hub (``kit_hub``) and the provider double (``kit_provider``).
The kit's tests are async: ``pytest-asyncio`` must be installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from hub.testing.fixtures import Fixture, describe, load_fixtures
from hub.testing.kit import ConnectorKit, Inbound, Webhook, handed_over
from hub.testing.provider import Failure, HttpProvider, ProviderDouble, Recorded
from hub.testing.rig import KitHub, running_hub
from hub.testing.serve import serve

__all__ = [
    "ConnectorKit",
    "Failure",
    "Fixture",
    "HttpProvider",
    "Inbound",
    "KitHub",
    "ProviderDouble",
    "Recorded",
    "Webhook",
    "describe",
    "handed_over",
    "kit_hub",
    "kit_provider",
    "load_fixtures",
    "pytest_collection_modifyitems",
    "pytest_generate_tests",
    "serve",
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise kit tests over the class's payloads and reply channels."""
    cls = metafunc.cls
    if cls is None or not issubclass(cls, ConnectorKit):
        return
    kit = cls()
    if "kit_fixture" in metafunc.fixturenames:
        fixtures = kit.load() if kit.inbound != "none" else []
        metafunc.parametrize("kit_fixture", fixtures, ids=[f.name for f in fixtures])
    if "kit_channel" in metafunc.fixturenames:
        channels = list(kit.send_channels or kit.connector.channel_names())
        metafunc.parametrize("kit_channel", channels, ids=channels)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Report the kit tests a kit declares ``not_applicable`` as skipped, with the reason."""
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is None or not issubclass(cls, ConnectorKit):
            continue
        name = getattr(item, "originalname", item.name)
        reason = cls.not_applicable.get(name)
        if reason is not None:
            item.add_marker(
                pytest.mark.skip(reason=f"not applicable to {cls.connector.name}: {reason}")
            )


def _kit(request: pytest.FixtureRequest) -> ConnectorKit:
    kit = request.instance
    if not isinstance(kit, ConnectorKit):
        raise TypeError("the kit fixtures serve ConnectorKit subclasses only")
    return kit


@pytest_asyncio.fixture
async def kit_provider(request: pytest.FixtureRequest) -> AsyncIterator[ProviderDouble]:
    """The author's provider double, running."""
    async with _kit(request).provider() as double:
        yield double


@pytest_asyncio.fixture
async def kit_hub(
    request: pytest.FixtureRequest, kit_provider: ProviderDouble, tmp_path: Path
) -> AsyncIterator[KitHub]:
    """A running hub with only the connector under test, configured for ``kit_provider``."""
    kit = _kit(request)
    async with running_hub(
        kit.connector,
        kit.settings(kit_provider),
        tmp_path,
        public_url=kit.public_url,
        provider=kit_provider,
    ) as hub:
        yield hub
