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
import time
from collections import Counter
from dataclasses import dataclass, field

import phonenumbers

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


@dataclass
class _Window:
    seconds: float
    hits: dict[str, list[float]] = field(default_factory=dict)

    def count(self, key: str, now: float) -> int:
        recent = [t for t in self.hits.get(key, ()) if now - t < self.seconds]
        self.hits[key] = recent
        return len(recent)

    def add(self, key: str, now: float) -> None:
        if len(self.hits) > 100_000:
            self.hits.clear()
        self.hits.setdefault(key, []).append(now)


class Relay:
    """Budgets and allow-lists for sends a visitor asks for (in memory, per process)."""

    def __init__(
        self,
        *,
        per_visitor: int,
        per_destination: int,
        per_hub: int,
        window_seconds: float,
        countries: tuple[str, ...],
        unverified_calls: bool,
    ) -> None:
        self.limits = {"visitor": per_visitor, "destination": per_destination, "hub": per_hub}
        self.window = _Window(window_seconds)
        self.countries = tuple(c.upper() for c in countries)
        self.unverified_calls = unverified_calls
        self.refusals: Counter[tuple[str, str]] = Counter()

    def check(self, action: str, to: Identity, *, visitor: str) -> None:
        """Spend one unit of each budget for sending ``action`` to the unverified ``to``
        for ``visitor``, or raise :class:`Refused` (nothing spent)."""
        try:
            self._check(action, to, visitor=visitor)
        except Refused as exc:
            self.refusals[(action, exc.code)] += 1
            log.warning("handoff.relay_refused", extra={"action": action, "code": exc.code})
            raise

    def _check(self, action: str, to: Identity, *, visitor: str) -> None:
        if to.kind == "phone":
            if action == "call_me" and not self.unverified_calls:
                raise Refused(
                    "needs_agent",
                    "We can only call a number we know is yours. An agent will pick this up.",
                )
            if self.countries and not self._in_countries(to.value):
                raise Refused("country", "We cannot send messages to numbers in that country.")
        now = time.monotonic()
        keys = {"visitor": f"v:{visitor}", "destination": f"d:{to}", "hub": "hub"}
        for name, key in keys.items():
            if self.window.count(key, now) >= self.limits[name]:
                raise Refused(
                    f"budget_{name}",
                    "We have sent as many of these as we can for now. "
                    "An agent will follow up here.",
                    status=429,
                )
        for key in keys.values():
            self.window.add(key, now)

    def _in_countries(self, number: str) -> bool:
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return False
        region = phonenumbers.region_code_for_number(parsed) or (
            phonenumbers.region_code_for_country_code(parsed.country_code or 0)
        )
        return region in self.countries
