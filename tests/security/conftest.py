"""Rigs the attacks run against: the connectors' own hubs, wired to their provider doubles."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.browser.conftest import browser, context, page, page_errors
from tests.connectors.meta.conftest import meta, meta_overrides
from tests.connectors.test_twilio import rig
from tests.security.victim import Victim
from tests.servers import serve

__all__ = ["browser", "context", "meta", "meta_overrides", "page", "page_errors", "rig"]


@pytest.fixture
async def victim() -> AsyncIterator[tuple[Victim, str]]:
    """An internal service on loopback; the test asserts it was never reached."""
    inside = Victim()
    async with serve(inside.app()) as url:
        yield inside, url
