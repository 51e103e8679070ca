"""The implicit ``default`` site accepts the origin the hub is actually served on."""

from __future__ import annotations

from hub.connectors.chat.settings import ChatSettings


def test_in_development_any_page_on_this_machine_may_connect() -> None:
    site = ChatSettings().site("default", "http://127.0.0.1:8000")
    assert site is not None
    for origin in ("http://localhost:8000", "http://localhost:5173", "http://[::1]:9001"):
        assert site.allows(origin, "localhost:8000"), origin
    assert not site.allows("https://evil.example", "localhost:8000")
    assert not site.allows(None, "localhost:8000")


def test_in_production_the_public_url_and_the_hubs_own_pages_only() -> None:
    site = ChatSettings().site("default", "https://hub.example.com")
    assert site is not None
    assert site.allows("https://hub.example.com", "hub.example.com")
    assert site.allows("https://hub.example.com:443", None)
    # /demo opened through another name the hub answers on (Origin is the Host it was sent to)
    assert site.allows("https://support.example.net", "support.example.net")
    assert site.allows("http://10.0.0.5:8000", "10.0.0.5:8000")
    assert not site.allows("https://evil.example", "hub.example.com")
    assert not site.allows("http://localhost:3000", "hub.example.com")  # no loopback pass
    assert not site.allows("https://hub.example.com.evil.example", "hub.example.com")


def test_configured_sites_allow_only_their_origins() -> None:
    chat = ChatSettings.model_validate(
        {"sites": {"default": {"origins": ["https://shop.example"]}}}
    )
    site = chat.site("default", "http://127.0.0.1:8000")
    assert site is not None
    assert site.allows("https://shop.example", "hub.example.com")
    assert not site.allows("http://localhost:8000", "localhost:8000")
    assert not site.allows("https://hub.example.com", "hub.example.com")
