"""Server-side fetches: media URLs named by signed webhooks reach only the provider's hosts.

Each attack names an internal service (a loopback server standing in for the
hub's own ``/healthz`` or a metadata endpoint) and checks that it got no
request at all, that no credential left the hub, and that the message itself
is still stored (without the attachment, with the reason).
"""

from __future__ import annotations

import socket

import httpx
import pytest

from hub.connectors.media import FetchPolicy, MediaRefused, download
from hub.timeline.model import Identity
from tests.connectors.meta.conftest import MetaRig
from tests.connectors.meta.kit import (
    PAGE_ID,
    WA_TOKEN,
    entry,
    message,
    messaging,
    wa_media,
    wa_value,
)
from tests.connectors.meta.kit import whatsapp as wa_payload
from tests.connectors.test_twilio import Rig
from tests.connectors.twilio_kit import ACCOUNT_SID
from tests.security.victim import Victim

BEN = "6101000000000002"
WA_ANA = "14155550100"


async def _messenger_attachment(meta: MetaRig, url: str, mid: str) -> list[str]:
    payload = messaging(
        "page",
        entry(PAGE_ID, message(BEN, mid, attachments=[{"type": "image", "payload": {"url": url}}])),
    )
    r = await meta.post(payload)
    assert r.status_code == 200, r.text
    [event] = await meta.events(Identity("messenger", BEN))
    assert event.attachments == []
    return [e["error"] for e in event.meta["attachment_errors"]]


async def test_messenger_media_url_on_loopback_is_never_fetched(
    meta: MetaRig, victim: tuple[Victim, str]
) -> None:
    inside, url = victim
    errors = await _messenger_attachment(meta, f"{url}/healthz", "m_ssrf1")
    assert inside.hits == []
    assert "refused" in errors[0] or "not one of" in errors[0]


@pytest.mark.parametrize(
    "target",
    [
        "https://localhost:{port}/healthz",
        "https://169.254.169.254/latest/meta-data/",
        "https://evil.example/",
        "https://127.0.0.1.nip.io:{port}/",
    ],
)
async def test_messenger_media_url_outside_metas_hosts_is_refused(
    meta: MetaRig, victim: tuple[Victim, str], target: str
) -> None:
    inside, url = victim
    errors = await _messenger_attachment(meta, target.format(port=url.rsplit(":", 1)[1]), "m_x")
    assert inside.hits == [] and errors


async def test_a_redirect_from_the_cdn_to_an_internal_address_is_refused(
    meta: MetaRig, victim: tuple[Victim, str]
) -> None:
    inside, url = victim
    meta.graph.redirects["photo.jpg"] = f"{url}/healthz"
    errors = await _messenger_attachment(meta, f"{meta.graph_url}/cdn/photo.jpg", "m_ssrf2")
    assert ("cdn:photo.jpg", None) in meta.graph.downloads
    assert inside.hits == [] and errors


async def test_whatsapp_token_never_goes_to_a_host_the_graph_answer_names(
    meta: MetaRig, victim: tuple[Victim, str]
) -> None:
    inside, url = victim
    meta.graph.media["1001"] = (b"\x89PNG picture", "image/png")
    meta.graph.media_urls["1001"] = f"{url}/steal"
    r = await meta.post(
        wa_payload(wa_value(messages=[wa_media(WA_ANA, "wamid.X", "image", "1001")]))
    )
    assert r.status_code == 200 and r.json()["stored"] == 1
    [event] = await meta.events(Identity("phone", f"+{WA_ANA}"))
    assert event.attachments == [] and event.meta["attachment_errors"]
    assert inside.hits == []
    assert WA_TOKEN not in str(event.meta)


async def test_twilio_media_url_elsewhere_is_not_fetched_and_gets_no_credentials(
    rig: Rig, victim: tuple[Victim, str]
) -> None:
    inside, url = victim
    r = await rig.twilio.sms(
        "MM9",
        "see attached",
        NumMedia="1",
        MediaUrl0=f"{url}/healthz",
        MediaContentType0="image/png",
    )
    assert r.status_code == 200
    [event] = await rig.events()
    assert event.attachments == [] and event.meta["media_errors"]
    assert inside.hits == []
    assert rig.rest.downloads == []
    assert await rig.connector.memory.pending() == {}  # refused for good, not retried


async def test_a_documented_host_resolving_to_loopback_is_refused_before_connecting(
    victim: tuple[Victim, str],
) -> None:
    inside, url = victim
    port = int(url.rsplit(":", 1)[1])
    assert socket.gethostbyname("localhost") == "127.0.0.1"
    policy = FetchPolicy.for_provider(["localhost"])
    async with httpx.AsyncClient(verify=False) as client:  # noqa: S501 - never reached
        with pytest.raises(MediaRefused, match="private address"):
            await download(
                client, f"https://localhost:{port}/healthz", max_bytes=100, policy=policy
            )
    assert inside.hits == []


def test_credentials_go_to_provider_hosts_only() -> None:
    meta_policy = FetchPolicy.for_provider(
        ["fbsbx.com"], credential_hosts=["lookaside.fbsbx.com", "graph.facebook.com"]
    )
    assert meta_policy.sends_credentials("https://lookaside.fbsbx.com/whatsapp_business/x")
    assert not meta_policy.sends_credentials("http://lookaside.fbsbx.com/x")
    assert not meta_policy.sends_credentials("https://scontent.fbsbx.com/x")
    assert not meta_policy.sends_credentials("https://lookaside.fbsbx.com.evil.example/x")
    assert ACCOUNT_SID.startswith("AC")
