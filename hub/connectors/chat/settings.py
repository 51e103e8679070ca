"""``[connectors.chat]``: sites (allowed origins, identity secret) and limits."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.connectors.base import ConnectorSettings

__all__ = [
    "DEFAULT_SITE",
    "ChatSettings",
    "SiteSettings",
    "is_loopback",
    "normalise_origin",
    "served_hosts",
]

DEFAULT_SITE = "default"
SITE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
DEFAULT_UPLOAD_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
)


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports dropped (``*`` stays)."""
    origin = origin.strip()
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an origin: {origin!r} (expected e.g. https://shop.example.com)")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost``, ``127.x``, ``[::1]``)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def served_hosts(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The names a request reached the hub by: ``Host``, and a proxy's ``X-Forwarded-Host``.

    A page's script cannot set either on a websocket, so a page on another site
    cannot pass as the hub's own.
    """
    found = [headers.get("host", "")]
    found += headers.get("x-forwarded-host", "").split(",")
    return tuple(h.strip() for h in found if h.strip())


def _same_origin(origin: str, hosts: Sequence[str]) -> bool:
    """Whether the page at ``origin`` was served from a host the request was sent to."""
    try:
        mine = normalise_origin(origin)
        scheme = urlsplit(mine).scheme
        return any(mine == normalise_origin(f"{scheme}://{host}") for host in hosts)
    except ValueError:
        return False


class SiteSettings(BaseModel):
    """One website embedding the widget (``[connectors.chat.sites.<name>]``).

    ``origins``: pages allowed to open the websocket (``Origin`` header; ``"*"``
    allows any). ``identity_secret``: the key the site's server computes
    ``user_hash`` with (HMAC-SHA256 of the user id, or of the email when there
    is no user id); without it ``Omnihub.identify`` is refused. ``same_origin``
    also allows pages the hub serves itself (``/demo``: the ``Origin`` is the
    ``Host`` the socket was opened on); ``loopback`` allows any page on this
    machine (``http://localhost:<any port>``, ``127.0.0.1``, ``[::1]``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    origins: tuple[str, ...] = ()
    identity_secret: SecretStr | None = Field(None, min_length=16)
    same_origin: bool = False
    loopback: bool = False

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalise_origin(o) for o in value)

    def allows(self, origin: str | None, hosts: Sequence[str] = ()) -> bool:
        """Whether a page at ``origin`` may connect to the hub reached as ``hosts``
        (:func:`served_hosts`)."""
        if "*" in self.origins:
            return True
        if not origin:
            return False
        try:
            if normalise_origin(origin) in self.origins:
                return True
        except ValueError:
            return False
        if self.loopback and is_loopback(origin):
            return True
        return self.same_origin and _same_origin(origin, hosts)


class ChatSettings(ConnectorSettings):
    """``[connectors.chat]``. With no ``sites``, one site named ``default`` allows
    ``public_url`` and the pages the hub serves itself (``/demo``, wherever it is
    opened); while ``public_url`` is a loopback address (development), any page on
    this machine too."""

    sites: dict[str, SiteSettings] = Field(default_factory=dict)
    max_frame_bytes: int = Field(16 * 1024, ge=256)
    max_text_chars: int = Field(5000, ge=1)
    rate_burst: int = Field(20, ge=1)
    rate_per_second: float = Field(2.0, gt=0)
    upload_max_bytes: int = Field(1_000_000, ge=1)
    upload_types: tuple[str, ...] = DEFAULT_UPLOAD_TYPES
    availability: Literal["auto", "online", "offline"] = "auto"
    presence_ttl_seconds: float = Field(120.0, gt=0)
    visitor_token_days: int = Field(365, ge=1)
    hello_timeout_seconds: float = Field(10.0, gt=0)
    history_limit: int = Field(50, ge=1, le=500)
    catch_up_limit: int = Field(1000, ge=1)
    session_queue: int = Field(256, ge=8)

    @field_validator("sites")
    @classmethod
    def _site_names(cls, value: dict[str, SiteSettings]) -> dict[str, SiteSettings]:
        for name in value:
            if not SITE_NAME.fullmatch(name):
                raise ValueError(f"site name {name!r}: use a-z, 0-9, _ and -")
        return value

    def site(self, name: str, public_url: str) -> SiteSettings | None:
        """The site called ``name``, or ``None``; see the class docstring for the default."""
        if not self.sites and name == DEFAULT_SITE:
            return SiteSettings(
                origins=(public_url,), same_origin=True, loopback=is_loopback(public_url)
            )
        return self.sites.get(name)
