"""Fetching attachment bytes from a provider: size-capped, from allowed hosts only.

A :class:`FetchPolicy` names where a connector may fetch from. Every URL — the
first and every redirect — is checked before anything is sent to it: its host
must be one of the provider's documented hosts (or a host the operator
configured, such as a test double's base URL), and a documented host must
resolve to public addresses only (no loopback, private, link-local or
reserved address), checked again on the connected socket. Credentials go only
to the policy's credential hosts and are dropped on a redirect elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["PUBLIC", "FetchPolicy", "MediaError", "MediaRefused", "download", "fetch_stream"]

MAX_REDIRECTS = 5


class MediaError(Exception):
    """A media file could not be fetched; ``str()`` says why (never a token or URL)."""


class MediaRefused(MediaError):
    """The policy refused a URL (host not allowed, private address); nothing was sent to it."""


def _matches(host: str, suffixes: Iterable[str]) -> bool:
    return any(host == s or host.endswith("." + s) for s in suffixes)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class FetchPolicy:
    """Where a connector may fetch media from.

    ``hosts``: documented host names (a name also allows its subdomains); they
    must resolve to public addresses. ``trusted``: ``host:port`` locations the
    operator configured (a provider base URL setting), allowed over plain HTTP
    and at any address. ``credential_hosts``: names (with subdomains) or
    trusted locations that may receive the connector's credentials; an empty
    ``hosts`` allows any public host (the default for plugins, :data:`PUBLIC`).
    """

    hosts: frozenset[str] = frozenset()
    trusted: frozenset[str] = frozenset()
    credential_hosts: frozenset[str] = frozenset()
    any_public_host: bool = field(default=False)

    @classmethod
    def for_provider(
        cls,
        hosts: Iterable[str],
        *,
        configured: Iterable[str | None] = (),
        credential_hosts: Iterable[str] = (),
    ) -> FetchPolicy:
        """A policy for ``hosts``; each configured base URL that is not one of them is trusted
        (and may receive credentials)."""
        documented = frozenset(h.lower() for h in hosts)
        trusted = set()
        for url in configured:
            if not url:
                continue
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            if not _matches(host, documented):
                trusted.add(parts.netloc.lower())
        creds = frozenset(h.lower() for h in credential_hosts) | trusted
        return cls(hosts=documented, trusted=frozenset(trusted), credential_hosts=creds)

    def sends_credentials(self, url: str) -> bool:
        """Whether credentials may go to ``url``."""
        parts = urlsplit(url)
        if parts.netloc.lower() in self.trusted:
            return True
        return parts.scheme == "https" and _matches(
            (parts.hostname or "").lower(), self.credential_hosts
        )

    def is_trusted(self, url: str) -> bool:
        return urlsplit(url).netloc.lower() in self.trusted

    async def check(self, url: str) -> None:
        """Raise :class:`MediaRefused` unless ``url`` may be fetched (resolving its host)."""
        parts = urlsplit(url)
        if parts.netloc.lower() in self.trusted and parts.scheme in ("http", "https"):
            return
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not host:
            raise MediaRefused("media URL refused: only https from the provider's hosts")
        if not self.any_public_host and not _matches(host, self.hosts):
            raise MediaRefused(f"media host {host!r} is not one of the provider's hosts")
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, parts.port or 443, type=socket.SOCK_STREAM
            )
        except OSError:
            raise MediaError(f"media host {host!r} does not resolve") from None
        if not infos or not all(_public(str(info[4][0])) for info in infos):
            raise MediaRefused(f"media host {host!r} resolves to a private address")


PUBLIC = FetchPolicy(any_public_host=True)
"""Any https host with public addresses only: the default for plugins."""


def _peer_is_public(response: httpx.Response) -> bool:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return True
    address = stream.get_extra_info("server_addr")
    if not address:
        return True
    return _public(str(address[0]))


@asynccontextmanager
async def fetch_stream(
    client: httpx.AsyncClient,
    url: str,
    *,
    policy: FetchPolicy = PUBLIC,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | None = None,
) -> AsyncIterator[httpx.Response]:
    """GET ``url`` under ``policy``, following redirects one checked hop at a time;
    the final response (its body not yet read).

    ``headers`` and ``auth`` are credentials: sent only to the policy's credential hosts.
    Raises :class:`MediaRefused` before contacting a refused host.
    """
    for _ in range(MAX_REDIRECTS + 1):
        await policy.check(url)
        creds = policy.sends_credentials(url)
        async with client.stream(
            "GET",
            url,
            headers=headers if creds else None,
            auth=auth if creds else None,
            follow_redirects=False,
        ) as response:
            if not policy.is_trusted(url) and not _peer_is_public(response):
                raise MediaRefused("media host connected to a private address")
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            yield response
            return
    raise MediaError(f"media redirected more than {MAX_REDIRECTS} times")


async def download(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    policy: FetchPolicy = PUBLIC,
) -> tuple[bytes, str | None]:
    """GET ``url`` (at most ``max_bytes``) under ``policy``; the bytes and their content type.

    ``headers`` carry credentials and go only to the policy's credential hosts.
    Raises :class:`MediaError` on a refused URL (:class:`MediaRefused`), a
    non-2xx answer, a body over the limit or a network error.
    """
    try:
        async with fetch_stream(client, url, policy=policy, headers=headers) as response:
            if not response.is_success:
                raise MediaError(f"media server answered {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise MediaError(f"media is {declared} bytes, over the {max_bytes} byte limit")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise MediaError(f"media is over the {max_bytes} byte limit")
                chunks.append(chunk)
            content_type = response.headers.get("content-type")
    except httpx.HTTPError as exc:
        raise MediaError(f"media unreachable: {type(exc).__name__}") from None
    if content_type:
        content_type = content_type.split(";")[0].strip() or None
    return b"".join(chunks), content_type
