"""Recorded provider payloads and what each must become on the timeline.

A fixture folder holds one file per recorded payload (``text_message.json``,
``reply.eml``, …) and, beside each, ``<stem>.expected.json``: the list of
events the payload must store, oldest first, each a dict of the fields that
matter (see :data:`FIELDS`); fields left out are not compared. ``[]`` says
the payload stores nothing (a delivery receipt, a bot's own echo).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.timeline.model import Event

__all__ = ["FIELDS", "Fixture", "describe", "load_fixtures", "mismatches"]

EXPECTED_SUFFIX = ".expected.json"
FIELDS = (
    "channel",
    "identity",
    "direction",
    "kind",
    "text",
    "html",
    "subject",
    "author",
    "external_id",
    "thread_ref",
    "occurred_at",
    "attachments",
    "meta",
    "customer_name",
)


@dataclass(frozen=True)
class Fixture:
    """One recorded payload: its file, its bytes and the events it must store."""

    name: str
    path: Path
    body: bytes
    expected: list[dict[str, Any]] | None
    """``None`` when ``<stem>.expected.json`` does not exist yet."""

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.body)

    def __str__(self) -> str:
        return self.name


def _stem(path: Path) -> str:
    return path.name.split(".", 1)[0]


def load_fixtures(folder: Path) -> list[Fixture]:
    """Every payload in ``folder`` (not recursive), by name; dotfiles, READMEs
    and ``*.expected.json`` are not payloads."""
    found: list[Fixture] = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if not path.is_file() or name.startswith((".", "README")) or name.endswith(EXPECTED_SUFFIX):
            continue
        expected_path = path.with_name(_stem(path) + EXPECTED_SUFFIX)
        expected = None
        if expected_path.exists():
            loaded = json.loads(expected_path.read_text())
            if not isinstance(loaded, list) or not all(isinstance(e, dict) for e in loaded):
                raise ValueError(f"{expected_path}: expected a JSON list of event objects")
            for item in loaded:
                unknown = set(item) - set(FIELDS)
                if unknown:
                    raise ValueError(f"{expected_path}: unknown fields {sorted(unknown)}")
            expected = loaded
        found.append(Fixture(_stem(path), path, path.read_bytes(), expected))
    names = [f.name for f in found]
    clashes = {n for n in names if names.count(n) > 1}
    if clashes:
        raise ValueError(f"{folder}: several payloads share the stem(s) {sorted(clashes)}")
    return found


def describe(event: Event, customer_name: str | None = None) -> dict[str, Any]:
    """An event as an expectation would spell it (paste it into ``*.expected.json``)."""
    out: dict[str, Any] = {
        "channel": event.channel,
        "identity": str(event.identity) if event.identity else None,
        "direction": str(event.direction),
        "kind": str(event.kind),
        "text": event.text,
        "html": event.html,
        "subject": event.subject,
        "author": event.author,
        "external_id": event.external_id,
        "thread_ref": event.thread_ref,
        "occurred_at": event.occurred_at.isoformat(),
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in event.attachments
        ],
        "meta": json.loads(json.dumps(event.meta, default=str)),
        "customer_name": customer_name,
    }
    return {k: v for k, v in out.items() if v not in (None, [], {})}


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_subset(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def mismatches(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """What differs between expected and stored events (``[]`` when they agree).

    ``meta`` and ``attachments`` items compare as subsets: name the keys that matter.
    """
    if len(expected) != len(actual):
        return [f"expected {len(expected)} event(s), {len(actual)} stored"]
    problems: list[str] = []
    for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
        for key, value in want.items():
            if not _subset(value, got.get(key)):
                problems.append(f"event {i} {key}: expected {value!r}, stored {got.get(key)!r}")
    return problems
