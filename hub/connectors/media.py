"""Fetching attachment bytes from a provider, with a size cap and no secret in errors."""

from __future__ import annotations

import httpx

__all__ = ["MediaError", "download"]


class MediaError(Exception):
    """A media file could not be fetched; ``str()`` says why (never a token or URL)."""


async def download(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str | None]:
    """GET ``url`` (at most ``max_bytes``); the bytes and their content type.

    Raises :class:`MediaError` on a non-2xx answer, a body over the limit or a
    network error.
    """
    try:
        async with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
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
