"""Hostile or extreme JSON gets a 4xx naming the field, and never poisons the timeline."""

from __future__ import annotations

import json

import pytest

from tests.test_api import Running, message, running

__all__ = ["running"]


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def body(meta: str = "{}", **fields: str) -> bytes:
    """A message whose ``meta`` (and other fields) are raw JSON text."""
    parts = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in message().items()]
    parts += [f"{json.dumps(k)}: {v}" for k, v in fields.items()]
    return ("{" + ", ".join([*parts, f'"meta": {meta}']) + "}").encode()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (body(meta='{"a": ' + deep(1900) + "}"), "body"),
        (body(meta='{"a": ' + deep(150) + "}"), "body"),
        (body(meta='{"ratio": NaN}'), "body"),
        (body(meta='{"ratio": -Infinity}'), "body"),
        (body(meta='{"big": 123456789012345678901234567890}'), "body"),
        (body(meta='{"a.b": 1}'), "meta"),
        (body(meta='{"$where": "1"}'), "meta"),
        (body(meta='{"x": {"nested.key": 1}}'), "meta"),
        (body(timestamp='"9999-12-31T23:59:59Z"'), "timestamp"),
        (body(timestamp='"0001-01-01T00:00:00+01:00"'), "timestamp"),
        (body(timestamp='"0001-01-01T00:00:00Z"'), "timestamp"),
    ],
    ids=[
        "nested-1900",
        "nested-150",
        "nan",
        "infinity",
        "beyond-int64",
        "dotted-key",
        "dollar-key",
        "nested-dotted-key",
        "year-9999",
        "year-1-east",
        "year-1",
    ],
)
async def test_hostile_json_is_a_4xx_and_the_timeline_stays_readable(
    running: Running, payload: bytes, field: str
) -> None:
    r = await running.push(payload)
    assert r.status_code in (400, 422), r.text
    assert r.json()["field"] == field
    page = await running.client.get("/api/v1/conversations", headers=running.auth())
    assert page.status_code == 200 and page.json()["items"] == []


async def test_a_message_at_the_edge_of_the_limits_is_stored_and_readable(
    running: Running,
) -> None:
    edge = body(
        meta='{"n": 9223372036854775807, "low": -9223372036854775808, "f": 1.5e300, '
        '"a": ' + '{"a": ' * 20 + "1" + "}" * 20 + ', "email": "ana@example.com", "k-$": "ok"}',
        timestamp='"2000-01-01T00:00:00Z"',
    )
    r = await running.push(edge)
    assert r.status_code == 201, r.text
    timeline = await running.client.get(
        f"/api/v1/customers/{r.json()['customer_id']}/timeline", headers=running.auth()
    )
    assert timeline.status_code == 200, timeline.text
    [event] = timeline.json()["items"]
    assert event["meta"]["n"] == 2**63 - 1 and event["meta"]["low"] == -(2**63)


async def test_json_api_refuses_nan_and_deep_nesting_with_400(running: Running) -> None:
    for raw in (b'{"text": NaN}', ('{"text": ' + deep(1900) + "}").encode()):
        r = await running.client.post(
            "/api/v1/conversations/con_x/notes", content=raw, headers=running.auth()
        )
        assert r.status_code == 400, r.text
        assert r.json()["field"] == "body"
