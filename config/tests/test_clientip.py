"""client_ip: REMOTE_ADDR unless proxies are trusted, then the address the outermost trusted proxy saw."""

import pytest
from django.test import RequestFactory

from config.clientip import client_ip


def request(xff: str | None = None, remote: str = "10.0.0.5"):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


def test_it_ignores_forwarded_headers_when_no_proxy_is_trusted(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request("6.6.6.6")) == "10.0.0.5"


@pytest.mark.parametrize(
    ("count", "xff", "expected"),
    [
        (1, "2.2.2.2", "2.2.2.2"),
        (1, "6.6.6.6, 2.2.2.2", "2.2.2.2"),  # the visitor forged 6.6.6.6; nginx appended 2.2.2.2
        (2, "6.6.6.6, 2.2.2.2, 172.18.0.3", "2.2.2.2"),
        (1, "2001:db8::1", "2001:db8::1"),
        (1, None, "10.0.0.5"),  # straight to the app, e.g. a health check: the peer itself
    ],
)
def test_it_takes_the_address_the_trusted_proxies_saw(settings, count, xff, expected):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_ip(request(xff)) == expected


def test_it_reads_the_configured_header(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_HEADER = "HTTP_X_REAL_IP"
    r = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_REAL_IP="3.3.3.3", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert client_ip(r) == "3.3.3.3"


def test_it_gives_different_visitors_behind_one_proxy_different_addresses(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request("2.2.2.2")) != client_ip(request("3.3.3.3"))
