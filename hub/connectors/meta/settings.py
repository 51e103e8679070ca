"""``[connectors.meta]``: the app, the accounts it answers for, the Graph API it calls."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from hub.connectors.base import ConnectorSettings
from hub.connectors.media import FetchPolicy

__all__ = ["MEDIA_HOSTS", "MetaSettings"]

MEDIA_HOSTS = ("fbcdn.net", "fbsbx.com", "cdninstagram.com", "facebook.com", "instagram.com")
"""Where Meta serves attachments (Messenger/Instagram CDN URLs, WhatsApp media URLs)."""

_TAG = re.compile(r"[A-Z][A-Z_]{1,63}")


class MetaSettings(ConnectorSettings):
    """Settings of the Meta connector (channels ``messenger``, ``instagram``, ``whatsapp``).

    Subscribe the app's webhooks (Page, Instagram and WhatsApp Business Account
    objects) to ``<public_url>/connectors/meta/webhook`` with ``verify_token``.
    Every POST is checked against ``app_secret`` (``X-Hub-Signature-256``).

    The accounts map the id Meta routes by to that account's access token:
    ``pages`` (Page ID → Page token, Messenger), ``instagram`` (Instagram
    professional account ID → token, sent through ``instagram_graph_url``),
    ``whatsapp`` (``phone_number_id`` → system-user token). A channel with no
    account still receives messages; replies on it fail with a clear reason.

    ``app_id`` lets the connector skip echoes of its own replies (it also marks
    its Messenger replies with ``metadata``). ``graph_url`` and
    ``instagram_graph_url`` exist so tests can point the connector at a double.
    """

    app_secret: SecretStr = Field(min_length=8)
    verify_token: SecretStr = Field(min_length=8)
    app_id: str | None = Field(None, pattern=r"^[0-9]{1,32}$")
    graph_version: str = Field("v26.0", pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$")
    graph_url: str = "https://graph.facebook.com"
    instagram_graph_url: str = "https://graph.instagram.com"
    pages: dict[str, SecretStr] = Field(default_factory=dict)
    instagram: dict[str, SecretStr] = Field(default_factory=dict)
    whatsapp: dict[str, SecretStr] = Field(default_factory=dict)
    human_agent_tag: str = "HUMAN_AGENT"
    """The tag a reply outside the 24 h window carries when the agent asks for
    the default one (``tag = "default"``); any other tag string is sent as given."""
    template_language: str = Field("en_US", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    """Language of a WhatsApp template whose reply names none."""
    timeout_seconds: float = Field(15.0, gt=0)
    max_media_bytes: int = Field(25 * 1024 * 1024, gt=0)
    whatsapp_business_accounts: tuple[str, ...] = Field(
        (),
        description="WhatsApp Business Account ids whose message templates are synced "
        "(the `entry.id` of WhatsApp webhooks; learnt from them when empty)",
    )
    template_sync_minutes: float = Field(
        60.0, ge=0, description="how often the template catalogue is re-read (0: only at start)"
    )
    receipts_kept: int = Field(100, ge=1, le=1000)
    """Recent replies remembered per customer, so watermark receipts can name them."""

    def media_policy(self) -> FetchPolicy:
        """Media comes from Meta's hosts; the WhatsApp token goes only to the Graph API and
        ``lookaside.fbsbx.com`` (or the configured ``graph_url``)."""
        return FetchPolicy.for_provider(
            MEDIA_HOSTS,
            configured=(self.graph_url, self.instagram_graph_url),
            credential_hosts=("graph.facebook.com", "lookaside.fbsbx.com"),
        )

    @field_validator("graph_url", "instagram_graph_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("human_agent_tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not _TAG.fullmatch(value):
            raise ValueError("a message tag is upper case, e.g. HUMAN_AGENT")
        return value

    @field_validator("pages", "instagram", "whatsapp")
    @classmethod
    def _ids(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key in value:
            if not key.isdigit():
                raise ValueError(f"account ids are numeric, got {key!r}")
        return value
