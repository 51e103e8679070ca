"""The hub is not a free relay: what a visitor may make it send on their own.

A visitor's "text me", "email me this conversation" and "call me back" go out
automatically only to a verified address of the visitor's own customer.
Anything else is checked by :class:`Relay` against budgets per visitor, per
destination and per hub (``[handoff.relay]``, :class:`~hub.settings.RelaySettings`),
and SMS and calls against a country allow-list; calls to unverified numbers need
an agent by default. A refusal is a :class:`Refused` with a reason the visitor
can read; :attr:`Relay.refusals` counts them by action and reason.
"""

from __future__ import annotations

import logging
from collections import Counter

import phonenumbers

from hub.shared import SharedState
from hub.timeline.model import Identity

__all__ = ["Refused", "Relay"]

log = logging.getLogger("omnihub.handoff.relay")


class Refused(Exception):
    """A send the hub will not make for a visitor: ``code`` for counting, ``reason`` to show."""

    def __init__(self, code: str, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.status = status


class Relay:
    """Budgets and allow-lists for sends a visitor asks for; the budgets are spent in
    ``shared`` (every hub instance on one MongoDB spends from the same ones)."""

    def __init__(
        self,
        *,
        per_visitor: int,
        per_destination: int,
        per_hub: int,
        window_seconds: float,
        countries: tuple[str, ...],
        unverified_calls: bool,
        shared: SharedState | None = None,
    ) -> None:
        self.limits = {"visitor": per_visitor, "destination": per_destination, "hub": per_hub}
        self.window_seconds = window_seconds
        self.shared = shared or SharedState()
        self.countries = tuple(c.upper() for c in countries)
        self.unverified_calls = unverified_calls
        self.refusals: Counter[tuple[str, str]] = Counter()

    async def check(self, action: str, to: Identity, *, visitor: str) -> None:
        """Spend one unit of each budget for sending ``action`` to the unverified ``to``
        for ``visitor``, or raise :class:`Refused` (nothing spent)."""
        try:
            await self._check(action, to, visitor=visitor)
        except Refused as exc:
            self.refusals[(action, exc.code)] += 1
            log.warning("handoff.relay_refused", extra={"action": action, "code": exc.code})
            raise

    async def _check(self, action: str, to: Identity, *, visitor: str) -> None:
        if to.kind == "phone":
            if action == "call_me" and not self.unverified_calls:
                raise Refused(
                    "needs_agent",
                    "We can only call a number we know is yours. An agent will pick this up.",
                )
            if self.countries and not self._in_countries(to.value):
                raise Refused("country", "We cannot send messages to numbers in that country.")
        keys = {"visitor": f"v:{visitor}", "destination": f"d:{to}", "hub": "hub"}
        spent: list[str] = []
        for name, key in keys.items():
            key = f"relay:{key}"
            if not await self.shared.spend(key, self.limits[name], self.window_seconds):
                for done in spent:
                    await self.shared.refund(done, self.window_seconds)
                raise Refused(
                    f"budget_{name}",
                    "We have sent as many of these as we can for now. "
                    "An agent will follow up here.",
                    status=429,
                )
            spent.append(key)

    def _in_countries(self, number: str) -> bool:
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return False
        region = phonenumbers.region_code_for_number(parsed) or (
            phonenumbers.region_code_for_country_code(parsed.country_code or 0)
        )
        return region in self.countries
