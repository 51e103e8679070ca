"""``[connectors.email]``: the reply-token secret and one table per mailbox account.

```toml
[connectors.email]
secret = "at least 16 random characters"

[[connectors.email.accounts]]
name = "support"
address = "support@example.com"          # From of our mail; the customer-facing address
reply_to = "reply@in.example.com"        # replies go to reply+<token>@in.example.com
imap_host = "imap.example.com"
imap_security = "tls"                    # tls | starttls | plain
username = "support@example.com"
password = "…"
mailboxes = ["INBOX"]
smtp_host = "smtp.example.com"
smtp_security = "starttls"
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.connectors.base import ConnectorSettings

__all__ = ["EmailAccount", "EmailSettings", "Security"]

Security = Literal["tls", "starttls", "plain"]

TWENTY_NINE_MINUTES = 29 * 60.0


class EmailAccount(BaseModel):
    """One mailbox account: where its mail is read (IMAP) and sent (SMTP)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    address: str = Field(min_length=3, max_length=254)
    display_name: str | None = Field(None, max_length=200)
    reply_to: str | None = Field(None, max_length=254)
    """``local@domain``: replies are addressed to ``local+<token>@domain``.
    Defaults to ``address``."""

    imap_host: str | None = None
    imap_port: int | None = Field(None, gt=0, lt=65536)
    imap_security: Security = "tls"
    username: str | None = None
    password: SecretStr | None = None
    mailboxes: tuple[str, ...] = ("INBOX",)
    idle: bool = True
    idle_renew_seconds: float = Field(TWENTY_NINE_MINUTES, gt=0, le=TWENTY_NINE_MINUTES)
    poll_seconds: float = Field(60.0, gt=0)
    fetch_batch: int = Field(50, ge=1, le=200)
    timeout_seconds: float = Field(30.0, gt=0)
    backoff_base: float = Field(1.0, gt=0)
    backoff_cap: float = Field(300.0, gt=0)
    stop_grace_seconds: float = Field(10.0, ge=0)
    """On stop, how long a message being ingested may take to finish."""
    start_from: Literal["all", "new"] = "all"
    """What a mailbox seen for the first time imports: its whole backlog, or
    only mail that arrives from now on."""

    smtp_host: str | None = None
    smtp_port: int | None = Field(None, gt=0, lt=65536)
    smtp_security: Security = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None

    @field_validator("address", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and (value.count("@") != 1 or any(c.isspace() for c in value)):
            raise ValueError("expected local@domain")
        return value

    @field_validator("mailboxes")
    @classmethod
    def _mailboxes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for box in value:
            if not box or any(c in box for c in '\r\n\0"\\'):
                raise ValueError(f"unusable mailbox name {box!r}")
        return value

    @model_validator(mode="after")
    def _login(self) -> EmailAccount:
        if self.imap_host and not (self.username and self.password):
            raise ValueError("imap_host needs username and password")
        return self

    @property
    def reply_address(self) -> str:
        return self.reply_to or self.address

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def imap_port_or_default(self) -> int:
        return self.imap_port or (993 if self.imap_security == "tls" else 143)

    @property
    def smtp_port_or_default(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {"tls": 465, "starttls": 587, "plain": 25}[self.smtp_security]


class EmailSettings(ConnectorSettings):
    """The email connector's settings: a signing secret and the accounts."""

    secret: SecretStr = Field(min_length=16)
    """Signs reply tokens and our Message-IDs (proof a reply belongs to a conversation)."""
    accounts: tuple[EmailAccount, ...] = Field(min_length=1)
    outbound_account: str | None = None
    """The account replies are sent from when a conversation has none of its own."""
    languages: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "sv", "da", "no", "pl")
    """Languages whose reply headers ("On … wrote:", "Am … schrieb:") are recognised
    by ``mail-parser-reply`` (the quote cutter knows all of the defaults anyway)."""
    max_message_bytes: int = Field(25 * 1024 * 1024, gt=0)
    """Larger messages are stored with their headers and a "too large" marker."""
    max_attachment_bytes: int = Field(20 * 1024 * 1024, gt=0)
    max_html_chars: int = Field(500_000, gt=0)
    default_subject: str = "Your conversation with us"

    @model_validator(mode="after")
    def _accounts(self) -> EmailSettings:
        names = [a.name for a in self.accounts]
        if len(set(names)) != len(names):
            raise ValueError("account names must be unique")
        if self.outbound_account is not None and self.outbound_account not in names:
            raise ValueError(f"outbound_account {self.outbound_account!r} is not an account")
        return self

    def account(self, name: str | None) -> EmailAccount | None:
        """The named account, else the outbound default, else the first that can send."""
        by_name = {a.name: a for a in self.accounts}
        for candidate in (name, self.outbound_account):
            if candidate and candidate in by_name and by_name[candidate].smtp_host:
                return by_name[candidate]
        return next((a for a in self.accounts if a.smtp_host), None)
