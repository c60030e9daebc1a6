"""Rate limits on Redis with the `limits` library (log-in throttles for now)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """Whether a hit was admitted, and when to retry if not."""

    allowed: bool
    retry_after: int = 0


class RateLimits:
    """Bound to an app: one storage and limiter per process."""

    def __init__(self) -> None:
        self.storage: Storage | None = None
        self.limiter: MovingWindowRateLimiter | None = None
        self.failures = 0  # checks that failed open because Redis did not answer

    def init_app(self, app: Flask) -> None:
        """Connect the limiter to the app's Redis."""
        self.storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
        self.limiter = MovingWindowRateLimiter(self.storage)
        app.extensions["ratelimits"] = self

    def hit(self, limit: RateLimitItem, *identifiers: str) -> Verdict:
        """Count one hit; fail open (logged, counted) when Redis is unavailable."""
        assert self.limiter is not None
        try:
            if self.limiter.hit(limit, *identifiers):
                return Verdict(True)
            reset_at, _remaining = self.limiter.get_window_stats(limit, *identifiers)
        except Exception:  # noqa: BLE001 - any storage failure must not take log-in down
            self.failures += 1
            log.warning("rate limit storage unavailable; failing open", exc_info=True)
            return Verdict(True)
        import time

        return Verdict(False, max(1, int(reset_at - time.time()) + 1))


rate_limits = RateLimits()


def login_attempt(email: str, ip: str | None) -> Verdict:
    """Count a log-in attempt per account and per IP; refused if either is over its limit."""
    config = current_app.config
    by_account = rate_limits.hit(
        parse(config["LOGIN_LIMIT_PER_ACCOUNT"]), "login-account", email.strip().lower()
    )
    by_ip = rate_limits.hit(parse(config["LOGIN_LIMIT_PER_IP"]), "login-ip", ip or "unknown")
    if by_account.allowed and by_ip.allowed:
        return Verdict(True)
    return Verdict(False, max(by_account.retry_after, by_ip.retry_after))
