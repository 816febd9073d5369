"""The client's IP address as the configured reverse proxies report it: one answer for every part of the app."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


def client_ip(request: HttpRequest) -> str | None:
    """The address of whoever sent `request`, trusting exactly settings.TRUSTED_PROXY_COUNT proxies.

    With no trusted proxy (the default) only REMOTE_ADDR counts, so a forged X-Forwarded-For changes nothing.
    With N trusted proxies, each of which appends the address it saw to TRUSTED_PROXY_HEADER, the client is
    the N-th address from the right of that header; anything further left was written by the client itself.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    header = settings.TRUSTED_PROXY_HEADER
    forwarded = request.META.get(header, "").strip()
    if count <= 0 or not forwarded:
        return remote
    # django-ipware counts the proxies named in the chain "client, proxy1, ..., proxyN": the last proxy is
    # REMOTE_ADDR, so it goes on the end and the count stays the number of proxies in front of the app.
    chain = f"{forwarded}, {remote}" if remote else forwarded
    ip, _routable = get_client_ip(
        _Meta({header: chain}),
        proxy_order="left-most",
        proxy_count=count,
        request_header_order=[header],
        strict=False,
    )
    return ip or remote


class _Meta:
    """Just enough of a request for django-ipware: the one header it is told to read."""

    def __init__(self, meta: dict[str, str]) -> None:
        self.META = meta
