import time

import pytest

from apologies.models import Campaign
from apologies.sending.ratelimit import RateLimiter

pytestmark = pytest.mark.django_db


def test_it_hands_out_at_most_the_rate_per_second_across_callers():
    from django.core.cache import cache

    cache.clear()
    campaign = Campaign(id=987654, rate_per_second=50)
    first, second = RateLimiter(campaign), RateLimiter(campaign)  # two workers share the cache
    started = time.monotonic()
    granted = 0
    while time.monotonic() - started < 1.5:
        for limiter in (first, second):
            if limiter.acquire(20, deadline=time.monotonic() + 0.01):
                granted += 20
    # 1.5 s of asking spans two or three one-second windows of 50 each.
    assert 40 <= granted <= 150


def test_it_gives_up_at_the_deadline():
    from django.core.cache import cache

    cache.clear()
    limiter = RateLimiter(Campaign(id=987655, rate_per_second=5))
    assert limiter.acquire(5, deadline=time.monotonic() + 1)
    assert not limiter.acquire(5, deadline=time.monotonic() - 1)
