"""Finding connectors: the ``omnihub.connectors`` entry-point group, and what is
disabled and why.

Built-in connectors register through the same group as plugins (see
``pyproject.toml``); :class:`Registry` loads them all and sets aside any that
cannot be used, so the hub starts without them.
"""

from __future__ import annotations

import inspect
import logging
from importlib.metadata import EntryPoint, entry_points

from hub.connectors.base import ENTRY_POINT_GROUP, Connector
from hub.errors import DuplicateConnector

__all__ = ["Registry"]

log = logging.getLogger("hub.connectors")


class Registry:
    """Connector classes found through the entry-point group.

    A plugin that cannot be used is listed in ``disabled`` (name → reason) and
    the hub starts without it: its import fails (e.g. an optional dependency is
    missing), it is not a :class:`Connector` or leaves ``send`` unimplemented,
    or it claims a name or channel another connector has. Discovery loads the
    built-in connectors first, then plugins by distribution name, so which one
    keeps a contested name does not depend on install order. :meth:`add`, for
    code registering classes itself, raises :class:`DuplicateConnector` instead.
    """

    def __init__(self) -> None:
        self.available: dict[str, type[Connector]] = {}
        self.disabled: dict[str, str] = {}

    @classmethod
    def discover(cls, group: str = ENTRY_POINT_GROUP) -> Registry:
        """Every connector registered under ``group`` in the installed distributions."""
        registry = cls()
        for ep in sorted(entry_points(group=group), key=_load_order):
            registry.load(ep)
        return registry

    def load(self, ep: EntryPoint) -> None:
        """Load one entry point; a plugin that cannot be used is disabled with the reason."""
        try:
            connector = ep.load()
        except Exception as exc:  # whatever a plugin's import raises disables only it
            self._disable(ep.name, f"cannot import {ep.value}: {type(exc).__name__}: {exc}")
            return
        problem = _unusable(connector)
        if problem is not None:
            self._disable(ep.name, f"{ep.value} {problem}")
            return
        try:
            self.add(connector, ep.name)
        except DuplicateConnector as exc:
            self._disable(ep.name, str(exc))

    def _disable(self, name: str, reason: str) -> None:
        self.disabled[name] = reason
        log.warning("connector %s disabled: %s", name, reason)

    def add(self, connector: type[Connector], registered_as: str | None = None) -> None:
        """Register ``connector``; raises :class:`DuplicateConnector` on a clash."""
        name = connector.name
        if registered_as is not None and registered_as != name:
            raise DuplicateConnector(
                f"entry point {registered_as!r} loads a connector named {name!r}"
            )
        if name in self.available and self.available[name] is not connector:
            raise DuplicateConnector(
                f"two connectors named {name!r}: {self.available[name]!r} and {connector!r}"
            )
        taken = {
            spec.name: (other, spec)
            for other in self.available.values()
            for spec in other.channel_specs()
        }
        for spec in connector.channel_specs():
            other, theirs = taken.get(spec.name, (connector, spec))
            if other is not connector and not (spec.shared and theirs.shared):
                raise DuplicateConnector(
                    f"channel {spec.name!r} claimed by {other.name!r} and {name!r}"
                )
        self.available[name] = connector


def _load_order(ep: EntryPoint) -> tuple[bool, str, str]:
    dist = ep.dist.name if ep.dist is not None else ""
    return (dist != "omnihub", dist, ep.name)


def _unusable(obj: object) -> str | None:
    """Why ``obj`` cannot serve as a connector class, or ``None``."""
    if not isinstance(obj, type) or not issubclass(obj, Connector):
        return "is not a Connector subclass"
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        return f"does not implement {missing}"
    for attr in ("name", "identity_kind"):
        if not hasattr(obj, attr):
            return f"declares no {attr}"
    if not isinstance(obj.name, str) or not obj.name:
        return "declares no name"
    return None
