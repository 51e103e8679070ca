"""``[connectors.telegram]`` and the webhook secret derived from it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from pydantic import Field, SecretStr, field_validator

from hub.connectors.base import ConnectorSettings
from hub.connectors.media import FetchPolicy

__all__ = ["TelegramSettings", "webhook_secret"]

_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,100}")


class TelegramSettings(ConnectorSettings):
    """``[connectors.telegram]``: the bot and where its API lives.

    ``api_url`` exists so tests can point the connector at a double.
    """

    bot_token: SecretStr
    webhook_secret: SecretStr | None = None
    api_url: str = "https://api.telegram.org"
    timeout_seconds: float = Field(15.0, gt=0)
    max_media_bytes: int = Field(20 * 1024 * 1024, gt=0)

    def media_policy(self) -> FetchPolicy:
        """Files come from the Bot API's host (``api_url``) only."""
        return FetchPolicy.for_provider(
            ("api.telegram.org",),
            configured=(self.api_url,),
            credential_hosts=("api.telegram.org",),
        )

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("expected a bot token like 123456:ABC-DEF… (from @BotFather)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


def webhook_secret(settings: TelegramSettings) -> str:
    """The secret token Telegram sends with every update (see the module docstring)."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    key = settings.bot_token.get_secret_value().encode()
    digest = hmac.new(key, b"omnihub telegram webhook secret", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
