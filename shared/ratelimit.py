"""Token buckets per key: a stuck or abused button cannot flood the command centre, and
nobody can guess passwords at speed. Held slots per key: nobody holds more than a few of a
long-lived resource (live streams)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBuckets:
    """`burst` requests at once, then one per `refill_s`; per key, in memory (per instance)."""

    burst: float = 10
    refill_s: float = 3.0
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    max_keys: int = 10_000  # beyond this, full buckets are forgotten (they hold nothing)

    def peek(self, key: str, now: float) -> float:
        """0 when a token is there, else the seconds until the next one; takes nothing."""
        tokens, last = self._state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) / self.refill_s)
        return 0.0 if tokens >= 1 else (1 - tokens) * self.refill_s

    def take(self, key: str, now: float) -> float:
        """0 when allowed (a token is taken), else the seconds until the next token."""
        tokens, last = self._state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) / self.refill_s)
        if len(self._state) > self.max_keys:
            self._forget_full(now)
        if tokens >= 1:
            self._state[key] = (tokens - 1, now)
            return 0.0
        self._state[key] = (tokens, now)
        return (1 - tokens) * self.refill_s

    def _forget_full(self, now: float) -> None:
        for key, (tokens, last) in list(self._state.items()):
            if tokens + (now - last) / self.refill_s >= self.burst:
                del self._state[key]


@dataclass
class HeldSlots:
    """At most `limit` held at once per key, in memory (per instance)."""

    limit: int
    _held: dict[str, int] = field(default_factory=dict)

    def acquire(self, key: str) -> bool:
        """True when a slot was free (and is now held); False when all `limit` are held."""
        held = self._held.get(key, 0)
        if held >= self.limit:
            return False
        self._held[key] = held + 1
        return True

    def release(self, key: str) -> None:
        held = self._held.get(key, 0) - 1
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)
