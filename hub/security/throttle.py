"""Sign-in throttling by (account, client) with backoff, and per client across accounts.

Every attempt is counted *before* its password is checked (:meth:`SignInThrottle.begin`),
synchronously, so concurrent guesses cannot all pass the check: with
``max_failures`` allowed, at most that many passwords are verified before the
pair is refused. A lock is set for the (account, client) pair only — a stranger
cannot lock an agent out of their own browser — and lasts ``backoff`` seconds,
doubling with each further lock up to ``cap``. A success clears the pair's
count, but never a lock set while it was being checked.

State lives in memory, per process, with the least recently used pairs evicted
past ``keep`` keys.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Attempt", "SignInThrottle"]

log = logging.getLogger("hub.security")

K = TypeVar("K")
V = TypeVar("V")


@dataclass(slots=True)
class _Pair:
    pending: int = 0
    failures: int = 0
    locks: int = 0
    locked_until: float = 0.0


@dataclass(slots=True)
class _Client:
    pending: int = 0
    failures: deque[tuple[float, str]] = field(default_factory=deque)
    alerted: bool = False


@dataclass(frozen=True, slots=True)
class Attempt:
    """A sign-in attempt admitted for a password check; hand it back to ``finish``."""

    account: str
    client: str


class SignInThrottle:
    """Counts sign-in attempts per (account, client) and per client."""

    def __init__(
        self,
        *,
        max_failures: int,
        backoff: float,
        cap: float,
        client_failures: int,
        client_window: float,
        keep: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.backoff = backoff
        self.cap = max(cap, backoff)
        self.client_failures = client_failures
        self.client_window = client_window
        self.keep = keep
        self.clock = clock
        self._pairs: OrderedDict[tuple[str, str], _Pair] = OrderedDict()
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def _get(self, table: OrderedDict[K, V], key: K, make: Callable[[], V]) -> V:
        value = table.get(key)
        if value is None:
            value = table[key] = make()
            while len(table) > self.keep:
                table.popitem(last=False)
        else:
            table.move_to_end(key)
        return value

    def _client(self, client: str, now: float) -> _Client:
        state = self._get(self._clients, client, _Client)
        while state.failures and now - state.failures[0][0] >= self.client_window:
            state.failures.popleft()
        if not state.failures:
            state.alerted = False
        return state

    def begin(self, account: str, client: str) -> Attempt | None:
        """Admit an attempt (counted now), or ``None`` when the pair or the client is locked."""
        now = self.clock()
        by_client = self._client(client, now)
        if len(by_client.failures) + by_client.pending >= self.client_failures:
            return None
        pair = self._get(self._pairs, (account, client), _Pair)
        if pair.locked_until > now or pair.failures + pair.pending >= self.max_failures:
            return None
        pair.pending += 1
        by_client.pending += 1
        return Attempt(account, client)

    def finish(self, attempt: Attempt, *, ok: bool) -> None:
        """Record the outcome of an admitted attempt."""
        now = self.clock()
        pair = self._get(self._pairs, (attempt.account, attempt.client), _Pair)
        by_client = self._client(attempt.client, now)
        pair.pending = max(0, pair.pending - 1)
        by_client.pending = max(0, by_client.pending - 1)
        if ok:
            if pair.locked_until <= now:
                pair.failures = pair.locks = 0
            return
        pair.failures += 1
        if pair.failures >= self.max_failures:
            pair.locks += 1
            pair.locked_until = now + min(self.cap, self.backoff * 2 ** (pair.locks - 1))
            pair.failures = 0
        by_client.failures.append((now, attempt.account))
        if len(by_client.failures) >= self.client_failures and not by_client.alerted:
            by_client.alerted = True
            accounts = len({a for _, a in by_client.failures})
            log.warning(
                "sign-in spraying: client %s failed %d sign-ins across %d accounts within %gs",
                attempt.client,
                len(by_client.failures),
                accounts,
                self.client_window,
            )

    def locked(self, account: str, client: str) -> bool:
        """Whether ``client`` is currently refused for ``account``."""
        pair = self._pairs.get((account, client))
        return pair is not None and pair.locked_until > self.clock()
