"""Macros: reply templates with placeholders the hub fills and personal slots the agent writes.

The starter set ships in ``macros.toml`` beside this module (its header
describes the fields); ``[[agent.macros]]`` in settings adds a team's own, and
the older ``[agent] canned`` table still works (as macros without slots). A
macro is filled when the conversation page renders (the starter set is English:
an unnamed customer is "there") (customer's first name, the
agent's name, their email, phone and order number when the hub knows them).

A reply from a macro is refused — in the composer and again by the server —
while a ``{{placeholder}}`` or ``[[personal slot]]`` is left in it, or while the
filled macro is still in it word for word: a template sent untouched is
recognised by customers (``../shared/SUPPORT.md``). Each reply sent from a
macro records its id in ``meta.macro``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from hub.agent.tone import known_values
from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.settings import AgentSettings
    from hub.timeline.model import Agent, Customer, Event

__all__ = [
    "PLACEHOLDER",
    "SLOT",
    "Macro",
    "every_macro",
    "fill",
    "hub_values",
    "library",
    "problem",
    "starter",
]

STARTER_FILE = Path(__file__).with_name("macros.toml")
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]{1,60}?)\s*\}\}")
SLOT = re.compile(r"\[\[([^\[\]]{1,200})\]\]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Macro:
    """One template: ``text`` with ``{{placeholders}}`` and ``[[personal slots]]``."""

    id: str
    title: str
    text: str
    team: str | None = None

    @property
    def slots(self) -> list[str]:
        return SLOT.findall(self.text)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") or "macro"


@cache
def starter(path: Path = STARTER_FILE) -> tuple[Macro, ...]:
    """The macros of a macros file (the shipped starter set by default)."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    try:
        return tuple(
            Macro(id=m["id"], title=m["title"], text=m["text"].strip(), team=m.get("team"))
            for m in data.get("macro", [])
        )
    except KeyError as exc:
        raise ConfigError(f"{path.name}: a macro lacks {exc}") from None


def every_macro(settings: AgentSettings) -> list[Macro]:
    """The starter set, the configured macros and the older canned responses."""
    return [
        *starter(),
        *(Macro(f"team:{_slug(m.title)}", m.title, m.text, m.team) for m in settings.macros),
        *(Macro(f"canned:{_slug(t)}", t, text) for t, text in settings.canned.items()),
    ]


def library(settings: AgentSettings, team: str | None) -> list[Macro]:
    """The macros for a conversation of ``team`` (those of another team left out)."""
    return [m for m in every_macro(settings) if m.team is None or m.team == team]


def hub_values(customer: Customer, agent: Agent, events: list[Event]) -> dict[str, str]:
    """The placeholders the hub can fill for this customer and agent."""
    first = (customer.name or "").split()
    values = {"customer_name": first[0] if first else "there", "agent_name": agent.name}
    for kind in ("email", "phone"):
        held = next((i for i in customer.identities if i.kind == kind), None)
        if held is not None:
            values[kind] = held.value
    order = next((k for k in known_values(customer, events) if k.what == "order number"), None)
    if order is not None:
        values["order"] = order.value
    return values


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with the placeholders named in ``values`` filled; others stay."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1).strip(), m.group(0)), text)


def _flat(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def problem(draft: str, filled: str) -> str | None:
    """Why a reply from the macro ``filled`` (as inserted) cannot be sent, else ``None``."""
    missing = PLACEHOLDER.findall(draft)
    if missing:
        return f"fill in the placeholders first: {', '.join(missing)}"
    hints = [h.strip() for h in SLOT.findall(filled)]
    if SLOT.search(draft) or any(h and h in draft for h in hints):
        return "write the personal part of the macro in your own words first"
    if _flat(filled) in _flat(draft):
        return "the macro is unchanged: make it yours before sending"
    return None
