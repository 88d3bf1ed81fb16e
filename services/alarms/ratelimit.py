"""Per-device token buckets: a stuck or abused button cannot flood the command centre."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBuckets:
    """`burst` requests at once, then one per `refill_s`; per key, in memory (per instance)."""

    burst: float = 10
    refill_s: float = 3.0
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str, now: float) -> float:
        """0 when allowed (a token is taken), else the seconds until the next token."""
        tokens, last = self._state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) / self.refill_s)
        if tokens >= 1:
            self._state[key] = (tokens - 1, now)
            return 0.0
        self._state[key] = (tokens, now)
        return (1 - tokens) * self.refill_s
