"""Playwright fixtures: one headless Debian Chromium per session, a fresh browser context per test."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
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
# Every page the journeys visit is saved here as a PNG, one folder per test, for a reviewer to look at.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SKIPPED: list[str] = []


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"Browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)."
        # A CI job that silently skips its browser tests would look green while testing nothing.
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        SKIPPED.append(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def pytest_terminal_summary(terminalreporter) -> None:
    """Say loudly, at the end of the run, that browser tests did not run and how to make them run."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "Chromium" in str(r.longrepr)]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} BROWSER TESTS WERE SKIPPED: Chromium is missing", red=True)
        terminalreporter.write_line(
            f"Install it with `apt-get install chromium` (or `sudo make system-deps`), expected at {CHROMIUM}."
        )


class Screenshots:
    """Saves a screenshot of every page a test's browsers load, numbered in the order they were visited."""

    def __init__(self, test_name: str) -> None:
        self.folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", test_name)[:120]
        self.count = 0
        for old in self.folder.glob("*.png") if self.folder.exists() else []:
            old.unlink()

    def take(self, page: Page, label: str = "") -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        if not label:
            heading = page.evaluate("() => (document.querySelector('h1') || {}).textContent || ''")
            path = page.url.split("://", 1)[-1].split("/", 1)[-1].split("?")[0]
            label = f"{path.split('/')[0] or 'home'}-{heading}"
        name = re.sub(r"[^\w]+", "-", label, flags=re.ASCII)[:60]
        path = self.folder / f"{self.count:02d}-{name.strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def watch(self, page: Page) -> Page:
        """Shoot each page once it has loaded (and again when a form answer replaces it)."""
        page.on("load", lambda p: self.take(p))
        return page


@pytest.fixture
def screenshots(request) -> Screenshots:
    return Screenshots(request.node.name)


@pytest.fixture
def base_url(live_server) -> str:
    # The live server listens on the IPv4 loopback; naming it by address makes "never left
    # 127.0.0.1" an exact check rather than one that also has to trust what "localhost" resolves to.
    return f"http://127.0.0.1:{live_server.thread.port}"


@pytest.fixture
def page(browser: Browser, base_url: str, request) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT, accept_downloads=True)
    # Everything is local and small: a step that takes longer than this is stuck, not slow.
    context.set_default_timeout(10_000)
    page = context.new_page()
    Screenshots(request.node.name).watch(page)
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


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Every journey comes from 127.0.0.1: without this, wrong-code tries and cached pages of one test
    # would count against the next (the live server shares this process's cache).
    cache.clear()
    yield
    cache.clear()
