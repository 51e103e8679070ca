"""Checks the kit applies to whatever a connector stores, shows or leaves running."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel, SecretStr

from hub.connectors.base import Connector
from hub.timeline.model import Event

__all__ = ["check_invariants", "secret_values", "started_by", "to_json"]


def started_by(task: asyncio.Task[Any], package: str) -> bool:
    coro = task.get_coro()
    frame = getattr(coro, "cr_frame", None)
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    return isinstance(module, str) and module.startswith(package)


def check_invariants(cls: type[Connector], event: Event) -> None:
    specs = {c.name: c for c in cls.channel_specs()}
    assert event.channel in specs, f"event on {event.channel!r}, not a channel of {cls.name}"
    kind = specs[event.channel].identity_kind
    assert event.identity is not None, "an event without the customer's identity"
    if kind is not None:
        assert event.identity.kind == kind, (
            f"{event.channel} declares identity kind {kind!r}, stored {event.identity}"
        )
    assert event.external_id, "an inbound event without the provider's id (no dedupe)"
    assert event.occurred_at.tzinfo is not None, "occurred_at is naive"


def secret_values(value: Any) -> list[str]:
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in secret_values(getattr(value, name))]
    if isinstance(value, dict):
        return [s for v in value.values() for s in secret_values(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in secret_values(v)]
    return []


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
