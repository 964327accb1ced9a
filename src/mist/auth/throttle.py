"""Failed sign-ins, counted per account (e-mail) and per client address, in memory.

After a few quick failures each further try must wait twice as long as the one before, so guessing
passwords online is hopeless while a person who mistyped is back within seconds. The check runs
before any password hash is computed, so a refused attempt costs the server nothing.

Memory is enough: one Mist process serves a data directory, and a restart forgetting the counts
gives an attacker a handful more tries at most. The table is bounded (the least recently touched
entries are evicted first), so a spray of distinct e-mails cannot grow it without limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from mist.errors import RateLimited


@dataclass
class _Entry:
    failures: int
    last: float  # clock time of the latest counted attempt


class LoginThrottle:
    def __init__(
        self,
        free_per_account: int = 5,
        # Higher: several people may sign in from behind one NAT or office proxy.
        free_per_address: int = 20,
        base_delay: float = 1.0,
        max_delay: float = 900.0,
        forget_after: float = 3600.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = {"account": free_per_account, "address": free_per_address}
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = max(forget_after, max_delay)
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        # Routes call this from the event loop, but nothing stops a thread from doing so too.
        self._lock = threading.Lock()

    def admit(self, account: str, address: str) -> None:
        """Raises RateLimited while either key must wait. Otherwise counts this attempt as a failure
        in advance, so that concurrent attempts cannot all pass before the first one fails;
        `succeeded` takes it back."""
        keys = (("account", account), ("address", address))
        with self._lock:
            now = self._clock()
            wait = max(self._wait(key, now) for key in keys)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise RateLimited(
                    f"too many failed sign-ins; try again in {seconds} s", retry_after=seconds
                )
            for key in keys:
                self._count(key, now)

    def succeeded(self, account: str, address: str) -> None:
        """The account starts afresh; the address only gets this attempt back, since other
        accounts may be guessed from it."""
        with self._lock:
            self._entries.pop(("account", account), None)
            entry = self._entries.get(("address", address))
            if entry is not None:
                entry.failures = max(0, entry.failures - 1)

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: tuple[str, str], now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.last >= self.forget_after:
            del self._entries[key]
            return None
        return entry

    def _wait(self, key: tuple[str, str], now: float) -> float:
        entry = self._live(key, now)
        over = entry.failures - self.free[key[0]] if entry else -1
        if entry is None or over < 0:
            return 0.0
        delay = min(self.max_delay, self.base_delay * 2.0 ** min(over, 32))
        return entry.last + delay - now

    def _count(self, key: tuple[str, str], now: float) -> None:
        entry = self._live(key, now)
        if entry is None:
            entry = self._entries[key] = _Entry(failures=0, last=now)
        entry.failures += 1
        entry.last = now
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
