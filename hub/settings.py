"""Typed settings from ``OMNIHUB_*`` environment variables and ``omnihub.toml``.

Environment wins over the file. Nested keys use ``__`` in the environment:
``OMNIHUB_CONNECTORS__API__SECRET`` is ``[connectors.api] secret`` in TOML.
The file is ``$OMNIHUB_CONFIG`` if set, else ``./omnihub.toml`` if present.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hub.metrics.settings import ReportSettings
from hub.operations.settings import OperationsSettings
from hub.surveys.settings import SurveySettings

__all__ = [
    "DEFAULT_DATA_DIR",
    "FREE_MAIL_DOMAINS",
    "AgentSettings",
    "OutboxSettings",
    "RelaySettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
]

DEFAULT_DATA_DIR = "./var"
DEFAULT_STORE = "sqlite:///./var/omnihub.db"
_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?/?")
_UNDER_DATA_DIR = {"store": "omnihub.db", "blobs": "blobs", "secret_key_file": "secret_key"}


class OutboxSettings(BaseModel):
    """How the delivery worker retries.

    A claimed message is reserved for ``lease_seconds``, renewed while its send
    runs; a send taking longer than ``send_timeout`` is abandoned and retried.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    lease_seconds: float = Field(
        60.0,
        gt=0,
        description=(
            "how long a claimed delivery is reserved for one worker (renewed while its send runs)"
        ),
    )
    max_attempts: int = Field(8, ge=1, description="delivery attempts before a message fails")
    backoff_base: float = Field(
        2.0, gt=0, description="retry delay in seconds: exponential from this base, jittered"
    )
    backoff_cap: float = Field(900.0, gt=0, description="the longest retry delay, in seconds")
    poll_interval: float = Field(
        1.0, gt=0, description="how often the delivery worker looks for due messages, in seconds"
    )
    concurrency: int = Field(8, ge=1, description="sends running at once")
    send_timeout: float = Field(
        120.0, gt=0, description="a send taking longer is abandoned and retried, in seconds"
    )


WebhookEvent = Literal["message.created", "conversation.status", "sla.breach", "survey.answered"]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = (
    "message.created",
    "conversation.status",
    "sla.breach",
    "survey.answered",
)


class WebhookSubscription(BaseModel):
    """One receiver of outgoing webhooks (``[[webhooks.subscriptions]]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$", description="names it in the log"
    )
    url: str = Field(pattern=r"^https?://", description="where the events are POSTed")
    secret: SecretStr = Field(
        min_length=16, description="signs each request like the api channel (X-Omnihub-Signature)"
    )
    events: tuple[WebhookEvent, ...] = Field(
        WEBHOOK_EVENTS, min_length=1, description="the event types it receives"
    )


class WebhooksSettings(BaseModel):
    """Outgoing webhooks: who receives which events, and how deliveries retry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subscriptions: tuple[WebhookSubscription, ...] = Field(
        (), description="`[[webhooks.subscriptions]]`: name, url, secret, events"
    )
    max_attempts: int = Field(10, ge=1, description="attempts before a webhook delivery fails")
    backoff_base: float = Field(
        5.0, gt=0, description="webhook retry delay in seconds: exponential from this, jittered"
    )
    backoff_cap: float = Field(
        3600.0, gt=0, description="the longest webhook retry delay, in seconds"
    )
    timeout_seconds: float = Field(10.0, gt=0, description="how long a receiver has to answer")
    poll_interval: float = Field(
        2.0, gt=0, description="how often the webhook worker looks for due deliveries, in seconds"
    )
    lease_seconds: float = Field(
        60.0, gt=0, description="how long a claimed webhook delivery is reserved for one worker"
    )


class TonePhrase(BaseModel):
    """A phrase a team asks its agents to avoid, for the tone coach (``[[agent.tone]]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phrase: str = Field(min_length=1, max_length=200, description="the phrase to flag")
    rewrite: str = Field(min_length=1, max_length=500, description="what to say instead")
    reason: str = Field("", max_length=300, description="why, shown to the agent")
    team: str | None = Field(
        None, description="only for conversations of this team (operations); none: everyone"
    )


class MacroSetting(BaseModel):
    """A team's own macro (``[[agent.macros]]``); see :mod:`hub.agent.macros`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=80, description="what the picker shows")
    text: str = Field(
        min_length=1,
        max_length=5000,
        description="the reply, with `{{placeholders}}` and `[[personal slots]]`",
    )
    team: str | None = Field(None, description="only for conversations of this team")


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

    max_failed_sign_ins: int = Field(
        5, ge=1, description="failed agent sign-ins before the account is locked"
    )
    lockout_seconds: float = Field(
        900.0, gt=0, description="how long a locked agent account stays locked"
    )
    session_hours: float = Field(12.0, gt=0, description="how long an agent session lasts")
    canned: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "canned responses, title → text (`{{placeholder}}` for the agent to fill), shown "
            "as macros after the starter set"
        ),
    )
    macros: tuple[MacroSetting, ...] = Field(
        (),
        description=(
            "the team's own macros (`[[agent.macros]]` with title, text, team) beside the "
            "starter set; `{{placeholder}}` and `[[personal slot]]` in the text"
        ),
    )
    tone: tuple[TonePhrase, ...] = Field(
        (),
        description=(
            "the team's own phrases for the tone coach (`[[agent.tone]]` with phrase, rewrite, "
            "reason, team), beside the shipped rules"
        ),
    )
    presence_grace_seconds: float = Field(
        10.0, ge=0, description="an agent is offline this long after their last agent page closes"
    )
    presence_heartbeat_seconds: float = Field(
        30.0, gt=0, description="agent presence is re-announced this often"
    )
    snooze_check_seconds: float = Field(
        30.0, gt=0, description="how often snoozed conversations due to wake are re-opened"
    )


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


class RelaySettings(BaseModel):
    """What a visitor may make the hub send on their own ("text me", "email me this
    conversation", "call me back") to an address that is not yet verified as theirs.

    Sends to a verified address of the visitor's own customer are never budgeted.
    Anything else counts against three budgets per ``window_seconds``: per visitor,
    per destination and for the whole hub; SMS and calls go only to numbers of
    ``countries`` (ISO 3166 regions; empty: the hub's ``default_region``, or any
    country when that is unset). Calls to unverified numbers need an agent unless
    ``unverified_calls`` is on. Refusals are shown to the visitor, noted on the
    conversation for the agent and counted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_visitor: int = Field(
        2, ge=0, description="sends to unverified addresses one visitor may ask for per window"
    )
    per_destination: int = Field(
        2, ge=0, description="sends one unverified address may receive per window"
    )
    per_hub: int = Field(200, ge=0, description="sends to unverified addresses per window in all")
    window_seconds: float = Field(86_400.0, gt=0, description="the window of the relay budgets")
    countries: tuple[str, ...] = Field(
        (),
        description=(
            "regions SMS and calls may go to (empty: `default_region`, or any when that is unset)"
        ),
    )
    unverified_calls: bool = Field(
        False, description="place callbacks to unverified numbers without an agent"
    )


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

    continuity: bool = Field(True, description="`false`: every channel keeps its own conversations")
    free_mail_domains: tuple[str, ...] = Field(
        FREE_MAIL_DOMAINS,
        description=(
            "email domains where the same name proves nothing (`name.*`: any domain starting "
            "`name.`)"
        ),
    )
    window_hours: float = Field(
        168.0,
        ge=0,
        description=(
            "a message on another channel joins the customer's conversation active this recently"
        ),
    )
    rules: dict[str, ContinuityRule] = Field(
        default_factory=dict,
        description=(
            'per channel or `"<channel>:<inbox>"`: `enabled`, `window_hours`, `new_threads` (let a '
            "new-subject email join too)"
        ),
    )
    link_ttl_seconds: int = Field(86_400, ge=60, description="continuation links expire after this")
    session_ttl_seconds: int = Field(
        7 * 86_400,
        ge=60,
        description="how long a chat opened from a continuation link stays signed in",
    )
    link_rate_limit: int = Field(
        10, ge=1, description="continuation-link opens per client per `link_rate_seconds`"
    )
    link_rate_seconds: float = Field(60.0, gt=0, description="the window of `link_rate_limit`")
    business_name: str = Field(
        "us", max_length=100, description="how links, transcripts and texts name the business"
    )
    widget_url: str | None = Field(
        None,
        description=(
            "the widget script the `/c/<token>` page embeds (default: the hub's `/widget.js`)"
        ),
    )
    widget_site: str = Field(
        "default",
        min_length=1,
        max_length=64,
        description="the chat site the `/c/<token>` page's widget uses",
    )
    relay: RelaySettings = RelaySettings()


class SecuritySettings(BaseModel):
    """Abuse limits, browser headers and who may see health details (README: Security).

    Sign-in: ``agent.max_failed_sign_ins`` wrong passwords from one client lock
    that client out of that account for ``sign_in_backoff_seconds``, doubling per
    further lock up to ``agent.lockout_seconds``; a client failing
    ``client_sign_in_failures`` times within ``client_sign_in_window_seconds``
    (across any accounts) is refused everywhere until the window passes.
    A client is its address, or the ``X-Forwarded-For`` address when the
    connection comes from one of ``trusted_proxies``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sign_in_backoff_seconds: float = Field(
        30.0, gt=0, description="first lock of one client on one account; doubles per lock"
    )
    client_sign_in_failures: int = Field(
        20, ge=1, description="wrong passwords from one client, any accounts, before it is refused"
    )
    client_sign_in_window_seconds: float = Field(
        600.0, gt=0, description="the window of `client_sign_in_failures`"
    )
    trusted_proxies: tuple[str, ...] = Field(
        ("127.0.0.1",), description="proxies whose `X-Forwarded-For` names the client"
    )
    frame_ancestors: tuple[str, ...] = Field(
        (), description="origins whose pages may frame the hub's HTML (the widget's host sites)"
    )
    health_token: SecretStr | None = Field(
        None,
        description="a bearer token that shows `/healthz` details (API tokens do too)",
    )
    visitors_per_client: int = Field(
        10, ge=1, description="new widget visitors per client address per `client_window_seconds`"
    )
    visitor_messages_per_client: int = Field(
        120, ge=1, description="widget messages per client address per `client_window_seconds`"
    )
    client_window_seconds: float = Field(
        60.0, gt=0, description="the window of the per-client visitor limits"
    )

    @field_validator("frame_ancestors")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like https://shop.example.com")
        return tuple(o.rstrip("/") for o in value)


class ServerSettings(BaseModel):
    """The limits ``omnihub serve`` gives uvicorn (``hub.serving``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_timeout: float = Field(
        30.0,
        gt=0,
        description="seconds a request's head and body may take to arrive; slower: dropped",
    )
    keep_alive_timeout: float = Field(
        5.0, gt=0, description="seconds an idle kept-alive connection stays open"
    )
    max_connections: int = Field(
        10_000,
        ge=1,
        description="connections and requests at once (widget sockets count); past it: 503",
    )


class Settings(BaseSettings):
    """Everything the hub reads at start-up. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="OMNIHUB_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: str = Field(
        DEFAULT_DATA_DIR,
        description=(
            "where the hub writes: the SQLite file, attachments and the signing key unless set "
            "below (`/data` in the Docker image)"
        ),
    )
    store: str = Field(
        DEFAULT_STORE,
        description=(
            "`mongodb://…` for MongoDB, or an SQLite path (default `<data_dir>/omnihub.db`)"
        ),
    )
    store_timeout: float = Field(
        5.0,
        gt=0,
        lt=15,
        description=(
            "seconds to find a MongoDB server before a request fails (under Twilio's 15 s "
            "webhook timeout); a URI's `serverSelectionTimeoutMS` wins"
        ),
    )
    blobs: str = Field(
        "./var/blobs",
        description="attachment directory (default `<data_dir>/blobs`), or `gridfs` (MongoDB only)",
    )
    host: str = Field("127.0.0.1", description="the address `omnihub serve` listens on")
    port: int = Field(8000, description="the port `omnihub serve` listens on")
    server: ServerSettings = ServerSettings()
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description=(
            "the URL customers and providers reach the hub at (webhook signatures, callbacks, the "
            "chat widget's allowed origin)"
        ),
    )
    secret_key: SecretStr | None = Field(
        None,
        description=(
            "the key every signed token uses (16+ characters); unset: `secret_key_file`. Hubs "
            "sharing one store must share it"
        ),
    )
    secret_key_file: str = Field(
        "./var/secret_key",
        description="where the generated key is kept (default `<data_dir>/secret_key`, mode 0600)",
    )
    default_region: str | None = Field(
        None, description="region for phone numbers without `+` (e.g. `US`, `GB`)"
    )
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="larger request bodies get 413")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="`debug`, `info`, `warning` or `error`"
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="`json` lines or `text`; configured secrets are redacted either way"
    )
    outbox: OutboxSettings = OutboxSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    handoff: HandoffSettings = HandoffSettings()
    bus: Literal["auto", "memory", "mongodb"] = Field(
        "auto",
        description=(
            "how hub instances hear each other's changes and share presence, rate limits and "
            "scheduler leases: `memory` (one process), `mongodb` (collections in the store's "
            "database); `auto`: `mongodb` when the store is MongoDB"
        ),
    )
    agent: AgentSettings = AgentSettings()
    security: SecuritySettings = SecuritySettings()
    operations: OperationsSettings = Field(
        OperationsSettings(),
        description=(
            "support operations: triage, SLA clocks, acknowledgements and time rules (`enabled`, "
            "off by default); every key is in [Support operations](#support-operations)"
        ),
    )
    surveys: SurveySettings = SurveySettings()
    reports: ReportSettings = ReportSettings()
    connectors: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "a connector's settings (`OMNIHUB_CONNECTORS__<NAME>__<KEY>`); a connector runs when it"
            " has settings (`chat` always, unless excluded)"
        ),
    )
    enabled_connectors: list[str] | None = Field(
        None,
        description=(
            "JSON list restricting which connectors run (default: all configured, and `chat`)"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _under_data_dir(cls, data: Any) -> Any:
        """``store``, ``blobs`` and ``secret_key_file`` not set live under ``data_dir``."""
        if not isinstance(data, dict) or not data.get("data_dir"):
            return data
        root = Path(str(data["data_dir"]))
        filled = dict(data)
        for key, name in _UNDER_DATA_DIR.items():
            if filled.get(key) is None:
                path = str(root / name)
                filled[key] = f"sqlite:///{path}" if key == "store" else path
        return filled

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
