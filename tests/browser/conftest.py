"""Playwright fixtures: one headless Debian Chromium per session, a fresh browser context per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

# Playwright's sync API keeps an asyncio loop running in this thread, so Django would refuse ORM calls
# made by the test (and by the database flush after it) with SynchronousOnlyOperation. Nothing here is
# really concurrent: the ORM and Playwright take turns in one thread. Documented workaround:
# https://docs.djangoproject.com/en/5.2/topics/async/#envvar-DJANGO_ALLOW_ASYNC_UNSAFE
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox and no /dev/shm so it runs in containers as root; the rest stops Chromium's own
# background traffic (updates, sync), which would otherwise need the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"Browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)."
        # A CI job that silently skips its browser tests would look green while testing nothing.
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def base_url(live_server) -> str:
    # The live server listens on the IPv4 loopback; naming it by address makes "never left
    # 127.0.0.1" an exact check rather than one that also has to trust what "localhost" resolves to.
    return f"http://127.0.0.1:{live_server.thread.port}"


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT, accept_downloads=True)
    # Everything is local and small: a step that takes longer than this is stuck, not slow.
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def request_hosts(page: Page) -> set[str]:
    """Every host the page sent a request to, so a test can prove the pages need no CDN."""
    hosts: set[str] = set()

    def record(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("data", "blob"):
            hosts.add(parts.hostname or parts.scheme)

    page.on("request", record)
    return hosts


@pytest.fixture
def page_problems(page: Page) -> list[str]:
    """Script errors, console errors and failed responses: breakage that assertions on text can miss."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    return problems
