"""``/widget.js`` (the embeddable widget, with ETag and Cache-Control) and ``/demo``.

The widget is one static file, ``widget/omnihub-widget.js`` in the source tree
(shipped in the wheel as ``hub/_widget/``). It is served whether or not the
chat connector runs; ``/demo`` says how to turn it on when it does not.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from hub.connectors.chat.settings import is_loopback

__all__ = ["WIDGET_FILE", "routes", "widget_path"]

WIDGET_FILE = "omnihub-widget.js"
_HUB = Path(__file__).resolve().parents[2]


def widget_path() -> Path:
    """The widget source: in the installed package, else in the source checkout."""
    for candidate in (_HUB / "_widget" / WIDGET_FILE, _HUB.parent / "widget" / WIDGET_FILE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(WIDGET_FILE)


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    etag: str
    mtime: float


_cache: dict[Path, _Asset] = {}


def _asset() -> _Asset:
    path = widget_path()
    mtime = path.stat().st_mtime
    cached = _cache.get(path)
    if cached is None or cached.mtime != mtime:
        body = path.read_bytes()
        cached = _Asset(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', mtime)
        _cache[path] = cached
    return cached


async def widget_js(request: Request) -> Response:
    """The widget script; revalidated by ETag, cached for five minutes."""
    asset = _asset()
    headers = {
        "ETag": asset.etag,
        "Cache-Control": "public, max-age=300, stale-while-revalidate=86400",
        "X-Content-Type-Options": "nosniff",
        "Access-Control-Allow-Origin": "*",
    }
    match = request.headers.get("if-none-match", "")
    if asset.etag in (t.strip() for t in match.split(",")) or match.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type="text/javascript", headers=headers)


_DEMO = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Omnihub chat widget demo</title>
<style>
 body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1f2933; background: #f5f7fa; }}
 header {{ background: #243b53; color: #fff; padding: 2rem 1.5rem; }}
 main {{ max-width: 44rem; padding: 1.5rem; }}
 pre {{ background: #fff; border: 1px solid #d9e2ec; padding: 1rem; overflow-x: auto; }}
 .note {{ background: #fffbea; border: 1px solid #f7d070; padding: .75rem 1rem; }}
</style>
</head>
<body>
<header><h1>Acme Outdoor Gear</h1><p>A sample site with the Omnihub chat widget.</p></header>
<main>
<p>The chat button in the corner is the widget. Send a message, then answer it
from the <a href="/agent/">agent view</a> (or
<code>POST /api/v1/conversations/&lt;id&gt;/reply</code>).</p>
{note}
<h2>Embed it on your site</h2>
<pre><code>{snippet}</code></pre>
<p>Signed-in users: call <code>Omnihub.identify({{user_id, email, name, user_hash}})</code>
with <code>user_hash</code> = HMAC-SHA256 of the user id under the site's
<code>identity_secret</code>, computed on your server.</p>
</main>
{script}
</body>
</html>
"""


def _served_at(request: Request, public_url: str) -> str:
    """Where the snippet should point: ``public_url``, unless it is still a development
    (loopback) address, then the address this page was actually opened at (a proxy's
    ``X-Forwarded-Host`` if there is one)."""
    if not is_loopback(public_url):
        return public_url
    forwarded = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    if forwarded:  # behind a proxy: the name the browser used
        return f"{request.url.scheme}://{forwarded}"
    return str(request.base_url).rstrip("/")


async def demo(request: Request) -> HTMLResponse:
    """A sample page with the widget embedded and the snippet to copy."""
    hub = request.app.state.hub
    public = _served_at(request, hub.settings.public_url)
    snippet = (
        f'<script src="{public}/widget.js" data-site="default"\n'
        f'        data-title="Chat with us" data-color="#2f6fed" async></script>'
    )
    running = "chat" in hub.connectors
    note = (
        ""
        if running
        else '<p class="note">The chat connector is not enabled: add a '
        "<code>[connectors.chat]</code> table to <code>omnihub.toml</code> (or set "
        "<code>OMNIHUB_ENABLED_CONNECTORS</code>) and restart.</p>"
    )
    script = (
        '<script src="/widget.js" data-site="default" data-title="Chat with us" async></script>'
        if running
        else ""
    )
    page = _DEMO.format(note=note, snippet=html.escape(snippet), script=script)
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


routes = [Route("/widget.js", widget_js), Route("/demo", demo)]
