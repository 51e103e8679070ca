"""The implicit ``default`` site accepts the origin the hub is actually served on."""

from __future__ import annotations

import warnings
from pathlib import Path

from hub.app import build_app
from hub.connectors.chat.settings import ChatSettings, served_hosts
from hub.settings import Settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient


def test_in_development_any_page_on_this_machine_may_connect() -> None:
    site = ChatSettings().site("default", "http://127.0.0.1:8000")
    assert site is not None
    for origin in ("http://localhost:8000", "http://localhost:5173", "http://[::1]:9001"):
        assert site.allows(origin, ["localhost:8000"]), origin
    assert not site.allows("https://evil.example", ["localhost:8000"])
    assert not site.allows(None, ["localhost:8000"])


def test_in_production_the_public_url_and_the_hubs_own_pages_only() -> None:
    site = ChatSettings().site("default", "https://hub.example.com")
    assert site is not None
    assert site.allows("https://hub.example.com", ["hub.example.com"])
    assert site.allows("https://hub.example.com:443")
    # /demo opened through another name the hub answers on (Origin is the Host it was sent to)
    assert site.allows("https://support.example.net", ["support.example.net"])
    assert site.allows("http://10.0.0.5:8000", ["10.0.0.5:8000"])
    assert not site.allows("https://evil.example", ["hub.example.com"])
    assert not site.allows("http://localhost:3000", ["hub.example.com"])  # no loopback pass
    assert not site.allows("https://hub.example.com.evil.example", ["hub.example.com"])


def test_configured_sites_allow_only_their_origins() -> None:
    chat = ChatSettings.model_validate(
        {"sites": {"default": {"origins": ["https://shop.example"]}}}
    )
    site = chat.site("default", "http://127.0.0.1:8000")
    assert site is not None
    assert site.allows("https://shop.example", ["hub.example.com"])
    assert not site.allows("http://localhost:8000", ["localhost:8000"])
    assert not site.allows("https://hub.example.com", ["hub.example.com"])


def test_behind_a_proxy_the_forwarded_host_is_the_hubs_own() -> None:
    site = ChatSettings().site("default", "http://127.0.0.1:8000")  # OMNIHUB_PUBLIC_URL unset
    assert site is not None
    headers = {"host": "127.0.0.1:8000", "x-forwarded-host": "support.example.com"}
    assert served_hosts(headers) == ("127.0.0.1:8000", "support.example.com")
    assert site.allows("https://support.example.com", served_hosts(headers))
    assert not site.allows("https://evil.example", served_hosts(headers))


def test_the_demo_snippet_shows_the_address_the_page_was_opened_at(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))  # public_url left at http://127.0.0.1:8000
    with TestClient(build_app(settings)) as client:
        local = client.get("/demo", headers={"host": "localhost:9000"}).text
        proxied = client.get("/demo", headers={"x-forwarded-host": "support.example.com"}).text
    assert "src=&quot;http://localhost:9000/widget.js&quot;" in local
    assert "src=&quot;http://support.example.com/widget.js&quot;" in proxied
    with TestClient(
        build_app(Settings(data_dir=str(tmp_path), public_url="https://hub.example.com"))
    ) as client:
        public = client.get("/demo", headers={"host": "10.0.0.5:8000"}).text
    assert "src=&quot;https://hub.example.com/widget.js&quot;" in public
