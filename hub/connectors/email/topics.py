"""Threading when a reply carries no usable Message-ID: subjects and Outlook's Thread-Index.

Some clients and gateways drop ``In-Reply-To``/``References``. Then a reply is
joined to the same sender's recent conversation on the same topic: its subject
without ``Re:``/``AW:``/``SV:``/``Antw:``/``回复:``/``FW:``/``WG:`` prefixes (only
when it has one, or names a ``Thread-Topic``), or the root of its
``Thread-Index`` (the 22 bytes Outlook keeps for a whole thread). What each
conversation's topics are is kept in the connector's checkpoints. The pipeline
honours the result only for the conversation's own customer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime, timedelta

from hub.connectors.base import CheckpointStore
from hub.connectors.email.threading import normalise_subject

__all__ = ["Topics", "thread_index_for", "thread_index_root"]

_ROOT_BYTES = 22
_CACHE = 4096


def thread_index_root(value: str | None) -> str | None:
    """The thread root of an Outlook ``Thread-Index`` header (hex), or ``None``."""
    if not value:
        return None
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw[:_ROOT_BYTES].hex() if len(raw) >= _ROOT_BYTES else None


def thread_index_for(conversation_id: str, key: bytes) -> str:
    """A stable ``Thread-Index`` for our mail in ``conversation_id``: Outlook's replies
    keep its root, which leads back to the conversation."""
    root = hashlib.sha256(key + b"\x00thread-index\x00" + conversation_id.encode()).digest()
    return base64.b64encode(root[:_ROOT_BYTES]).decode()


def _subject_key(address: str, subject: str) -> str:
    digest = hashlib.sha256(f"{address.strip().lower()}\x1f{subject.casefold()}".encode())
    return "topic:" + digest.hexdigest()[:40]


class Topics:
    """Remembers and finds conversations by (sender, topic) and Thread-Index root."""

    def __init__(self, checkpoints: CheckpointStore, max_age: timedelta) -> None:
        self.checkpoints = checkpoints
        self.max_age = max_age
        self._cache: dict[str, dict[str, str]] = {}

    @staticmethod
    def topic(subject: str | None, thread_topic: str | None) -> str | None:
        """The topic a subject names, if it is a reply or forward (or ``Thread-Topic``)."""
        if thread_topic and normalise_subject(thread_topic):
            return normalise_subject(thread_topic)
        bare = normalise_subject(subject)
        return bare if bare and bare != (subject or "").strip() else None

    async def _get(self, key: str) -> dict[str, str] | None:
        if key not in self._cache:
            found = await self.checkpoints.get(key)
            if found is None:
                return None
            self._cache[key] = {k: str(v) for k, v in found.items()}
        return self._cache[key]

    async def _set(self, key: str, conversation_id: str, at: datetime) -> None:
        value = {"conversation_id": conversation_id, "at": at.isoformat()}
        if self._cache.get(key, {}).get("conversation_id") == conversation_id:
            previous = self._cache[key].get("at", "")
            if previous[:10] == value["at"][:10]:
                return  # refreshed today already
        if len(self._cache) >= _CACHE:
            self._cache.clear()
        await self.checkpoints.set(key, dict(value))
        self._cache[key] = value

    async def find(
        self,
        address: str,
        topic: str | None,
        thread_index: str | None,
        now: datetime,
    ) -> tuple[str, str] | None:
        """``(conversation_id, how)`` for a reply without Message-ID evidence."""
        keys: list[tuple[str, str]] = []
        if thread_index:
            keys.append((f"thread-index:{thread_index}", "thread-index"))
        if topic:
            keys.append((_subject_key(address, topic), "subject"))
        for key, how in keys:
            found = await self._get(key)
            if not found:
                continue
            try:
                at = datetime.fromisoformat(found["at"])
            except (KeyError, ValueError):
                continue
            if how == "thread-index" or now - at <= self.max_age:
                return found["conversation_id"], how
        return None

    async def remember(
        self,
        conversation_id: str,
        at: datetime,
        *,
        address: str | None = None,
        topic: str | None = None,
        thread_index: str | None = None,
    ) -> None:
        """Record that ``conversation_id`` carries this topic (for ``address``) and root."""
        if address and topic:
            await self._set(_subject_key(address, topic), conversation_id, at)
        if thread_index:
            await self._set(f"thread-index:{thread_index}", conversation_id, at)
