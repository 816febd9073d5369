"""Django's Redis cache with one redis-py client per connection pool, instead of a new client for every call.

Django's RedisCacheClient builds a fresh ``redis.Redis`` (and its table of ~170 response callbacks) for each
get or set: about a third of a cached landing page's CPU (bench/landing.py). A client is thread-safe and its
pool reconnects after a fork, so one per pool is enough.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self.clients.get(index)
        if client is None:
            client = self.clients[index] = super().get_client(key, write=write)
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
