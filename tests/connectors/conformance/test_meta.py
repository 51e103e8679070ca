"""The conformance kit over the built-in ``meta`` connector: Messenger, Instagram and
WhatsApp webhooks signed with ``X-Hub-Signature-256``, the Graph API double out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from hub.connectors import Connector
from hub.connectors.meta import MetaConnector, sign
from hub.testing import ConnectorKit, Fixture, HttpProvider, ProviderDouble, Webhook
from tests.connectors.meta.conftest import meta_settings
from tests.connectors.meta.kit import APP_SECRET, GraphDouble


def graph_failure(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Kit"}
    return status, {"error": error}


class TestMetaConnector(ConnectorKit):
    connector: ClassVar[type[Connector]] = MetaConnector
    fixtures = Path(__file__).parent / "fixtures" / "meta"
    signature_headers = ("X-Hub-Signature-256",)

    def settings(self, provider: ProviderDouble) -> dict[str, Any]:
        return meta_settings(provider.url)

    def provider(self) -> HttpProvider:
        return HttpProvider(
            GraphDouble().app(),
            transient=graph_failure(503, 2, "Service temporarily unavailable"),
            permanent=graph_failure(400, 100, "(#100) No matching user found"),
        )

    def webhook(self, fixture: Fixture, *, forged: bool = False) -> Webhook:
        secret = "not-the-app-secret-0123" if forged else APP_SECRET
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(secret, fixture.body),
        }
        return Webhook("webhook", fixture.body, headers)
