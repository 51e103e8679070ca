"""Teams, staff and business hours edited by admins (agent view, API), stored in the
store and laid over ``omnihub.toml``'s ``[operations]`` values.

The edits live in one record (the store's checkpoint ``operations``/``config``):
``{"teams": {name: {...}}, "staff": {email: {...}}, "calendars": {name: {...}}}``.
Every instance reads it at start and before each sweep, so an edit made on one
hub reaches the others within ``check_seconds``; the instance that saved it
applies it at once. A value of ``None`` removes an edit (the file's value, if
any, comes back). Each edit is validated like the file (errors name the key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from hub.errors import InvalidInput
from hub.operations.settings import OperationsSettings

if TYPE_CHECKING:
    from hub.timeline.store import TimelineStore

__all__ = ["EDITABLE", "apply", "load", "save"]

EDITABLE = ("teams", "staff", "calendars")
_KEY = ("operations", "config")


async def load(store: TimelineStore) -> dict[str, dict[str, Any]]:
    """The stored edits (empty sections when none)."""
    raw = await store.get_checkpoint(*_KEY) or {}
    return {s: dict(raw.get(s) or {}) for s in EDITABLE}


def apply(base: OperationsSettings, edits: dict[str, dict[str, Any]]) -> OperationsSettings:
    """``base`` with the edits laid over it; :class:`InvalidInput` naming the key if invalid."""
    data = base.model_dump(mode="json")
    for section in EDITABLE:
        for name, value in edits.get(section, {}).items():
            if value is None:
                continue
            data[section][name] = value
    try:
        return OperationsSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"operations.{where}", first["msg"]) from None


async def save(
    store: TimelineStore,
    base: OperationsSettings,
    section: str,
    name: str,
    value: dict[str, Any] | None,
) -> OperationsSettings:
    """Store one edit (``None``: remove it) after checking the result; the new settings."""
    if section not in EDITABLE:
        raise InvalidInput("section", f"editable sections are {', '.join(EDITABLE)}")
    if not name or len(name) > 200:
        raise InvalidInput("name", "a name of 1 to 200 characters")
    edits = await load(store)
    if value is None:
        edits[section].pop(name, None)
    else:
        edits[section][name] = value
    settings = apply(base, edits)
    await store.set_checkpoint(*_KEY, edits)
    return settings
