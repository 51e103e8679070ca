"""Wait for a state, never for a time: tests poll what they assert, with a generous bound."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Return once ``check()`` is true; ``TimeoutError`` if it is not within ``within`` s."""
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)
