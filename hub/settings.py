"""Typed settings from ``OMNIHUB_*`` environment variables and ``omnihub.toml``.

Environment wins over the file. Nested keys use ``__`` in the environment:
``OMNIHUB_CONNECTORS__API__SECRET`` is ``[connectors.api] secret`` in TOML.
The file is ``$OMNIHUB_CONFIG`` if set, else ``./omnihub.toml`` if present.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["FREE_MAIL_DOMAINS", "AgentSettings", "OutboxSettings", "Settings"]

DEFAULT_STORE = "sqlite:///./var/omnihub.db"


class OutboxSettings(BaseModel):
    """How the delivery worker retries.

    A claimed message is reserved for ``lease_seconds``, renewed while its send
    runs; a send taking longer than ``send_timeout`` is abandoned and retried.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    lease_seconds: float = Field(60.0, gt=0)
    max_attempts: int = Field(8, ge=1)
    backoff_base: float = Field(2.0, gt=0)
    backoff_cap: float = Field(900.0, gt=0)
    poll_interval: float = Field(1.0, gt=0)
    concurrency: int = Field(8, ge=1)
    send_timeout: float = Field(120.0, gt=0)


class AgentSettings(BaseModel):
    """The agent view: sign-in lockout, session length, canned responses, presence.

    ``canned`` maps a title to a reply text; ``{{placeholder}}`` marks what the
    agent must fill in (``{{customer_name}}`` and ``{{agent_name}}`` fill
    themselves). Empty: a few built-in examples. An agent with an agent page
    open is online; ``presence_grace_seconds`` after their last page closes they
    are offline; presence is re-announced every ``presence_heartbeat_seconds``.
    Snoozed conversations are checked every ``snooze_check_seconds``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_failed_sign_ins: int = Field(5, ge=1)
    lockout_seconds: float = Field(900.0, gt=0)
    session_hours: float = Field(12.0, gt=0)
    canned: dict[str, str] = Field(default_factory=dict)
    presence_grace_seconds: float = Field(10.0, ge=0)
    presence_heartbeat_seconds: float = Field(30.0, gt=0)
    snooze_check_seconds: float = Field(30.0, gt=0)


class ContinuityRule(BaseModel):
    """Continuity for one channel (``"sms"``) or one inbox of it (``"sms:Support"``).

    ``window_hours`` overrides the hub-wide window; ``new_threads`` lets a
    message that declares a topic of its own (an email under a new subject)
    join the customer's conversation on another channel too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    window_hours: float | None = Field(None, ge=0)
    new_threads: bool = False


FREE_MAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "outlook.*",
    "hotmail.*",
    "live.*",
    "msn.com",
    "yahoo.*",
    "ymail.com",
    "aol.*",
    "icloud.com",
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.*",
    "pm.me",
    "gmx.*",
    "web.de",
    "mail.com",
    "zoho.com",
    "yandex.*",
    "mail.ru",
    "qq.com",
    "163.com",
    "fastmail.com",
    "tutanota.com",
    "hey.com",
)
"""Email domains anyone can sign up on: the same name there proves nothing, so they never
yield "same name and email domain" suggestions (``[handoff] free_mail_domains`` replaces
the list). ``name.*`` is any domain whose first label is ``name`` (``gmx.de``,
``hotmail.co.uk``…)."""


class HandoffSettings(BaseModel):
    """Cross-channel continuity and continuation links (``hub.handoff``).

    A customer who writes on another channel joins their conversation that was
    active within ``window_hours`` (default 7 days); ``rules`` switch this per
    channel or per ``channel:inbox``. Continuation links expire after
    ``link_ttl_seconds``; one client may open at most ``link_rate_limit`` links
    per ``link_rate_seconds``. The ``/c/<token>`` page embeds the chat widget from
    ``widget_url`` (default the hub's ``/widget.js``) for site ``widget_site``.
    A new email customer named like a customer at the same email domain is a
    suggested link unless the domain is in ``free_mail_domains``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    continuity: bool = True
    free_mail_domains: tuple[str, ...] = FREE_MAIL_DOMAINS
    window_hours: float = Field(168.0, ge=0)
    rules: dict[str, ContinuityRule] = Field(default_factory=dict)
    link_ttl_seconds: int = Field(86_400, ge=60)
    session_ttl_seconds: int = Field(7 * 86_400, ge=60)
    link_rate_limit: int = Field(10, ge=1)
    link_rate_seconds: float = Field(60.0, gt=0)
    business_name: str = Field("us", max_length=100)
    widget_url: str | None = None
    widget_site: str = Field("default", min_length=1, max_length=64)


class Settings(BaseSettings):
    """Everything the hub reads at start-up. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="OMNIHUB_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    store: str = DEFAULT_STORE
    blobs: str = "./var/blobs"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None
    secret_key_file: str = "./var/secret_key"  # noqa: S105 - a path, not a secret
    default_region: str | None = None
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    outbox: OutboxSettings = OutboxSettings()
    handoff: HandoffSettings = HandoffSettings()
    bus: Literal["auto", "memory", "mongodb"] = Field(
        "auto",
        description=(
            "how hub instances hear each other's changes: `memory` (one process), `mongodb` (a "
            "capped collection in the store's database); `auto`: `mongodb` when the store is"
        ),
    )
    agent: AgentSettings = AgentSettings()
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    enabled_connectors: list[str] | None = None

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = os.environ.get("OMNIHUB_CONFIG")
        toml_file = Path(path) if path else Path("omnihub.toml")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path or toml_file.exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def connector_enabled(self, name: str, *, default: bool = False) -> bool:
        """Enabled when listed in ``enabled_connectors``, else when it has settings
        (or ``default``: the connector runs without settings)."""
        if self.enabled_connectors is not None:
            return name in self.enabled_connectors
        return name in self.connectors or default


def masked(value: SecretStr | str | None) -> str:
    """A secret for display: never its value."""
    return "<unset>" if not value else "********"
