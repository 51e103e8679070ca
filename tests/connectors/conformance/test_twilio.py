"""The conformance kit over the built-in ``twilio`` connector: form-encoded SMS webhooks
signed over the public URL (the SDK's validator algorithm), the REST double out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

from hub.connectors import Connector
from hub.connectors.twilio import TwilioConnector
from hub.testing import ConnectorKit, Fixture, HttpProvider, ProviderDouble, Webhook
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import RestDouble, sign


def twilio_failure(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    info = f"https://www.twilio.com/docs/errors/{code}"
    return status, {"code": code, "message": message, "more_info": info, "status": status}


class TestTwilioConnector(ConnectorKit):
    connector: ClassVar[type[Connector]] = TwilioConnector
    fixtures = Path(__file__).parent / "fixtures" / "twilio"
    signature_headers = ("X-Twilio-Signature",)
    send_channels = ("sms",)  # voice replies are calls, not text

    def settings(self, provider: ProviderDouble) -> dict[str, Any]:
        return twilio_settings(provider.url)

    def provider(self) -> HttpProvider:
        return HttpProvider(
            RestDouble().app(),
            transient=twilio_failure(503, 20503, "Service Unavailable"),
            permanent=twilio_failure(400, 21211, "The 'To' number is not a valid phone number."),
        )

    def webhook(self, fixture: Fixture, *, forged: bool = False) -> Webhook:
        """Fixtures are the form fields Twilio posts, recorded as a JSON object."""
        params: dict[str, str] = json.loads(fixture.body)
        token = "not-the-auth-token-0123456789" if forged else None
        signature = (
            sign(self.public("sms"), params, token) if token else sign(self.public("sms"), params)
        )
        return Webhook(
            "sms",
            urlencode(params).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
