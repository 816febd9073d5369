"""Messages per second for one campaign, shared by every worker through the cache."""

from __future__ import annotations

import time

from django.core.cache import cache

from apologies.campaigns.models import Campaign


class RateLimiter:
    """Messages per second for one campaign, shared by every worker through the cache."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign_id = campaign.id
        self.rate = max(1, campaign.rate_per_second)
        self.key = ""

    def acquire(self, n: int, *, deadline: float) -> bool:

        while time.monotonic() < deadline:
            second = int(time.time())
            key = f"amends:rate:{self.campaign_id}:{second}"
            cache.add(key, 0, timeout=5)
            try:
                used = cache.incr(key, n)
            except ValueError:
                continue
            if used <= self.rate:
                self.key = key
                return True
            cache.decr(key, n)
            time.sleep(max(0.01, second + 1 - time.time()))
        return False

    def give_back(self, n: int) -> None:

        if self.key and n > 0:
            try:
                cache.decr(self.key, n)
            except ValueError:
                pass  # that second is over anyway
