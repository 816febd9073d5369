"""End-to-end journeys through real Chromium against the live server: what staff actually click."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import Page, expect

from conftest import make_user
from incidents import imports
from incidents.models import Import
from incidents.tests.factories import T0, IncidentFactory, burst, sg, write_ndjson

PASSWORD = "a-long-browser-test-password"
# Rewriting the README's screenshot on every run would leave the checkout dirty, so it is opt-in:
# UPDATE_SCREENSHOT=1 .venv/bin/pytest tests/browser
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"

# Messages per person -> how many people got that many: 40 people, 382 messages.
HITS = {30: 10, 5: 10, 2: 12, 1: 8}
PEOPLE = sum(HITS.values())
MESSAGES = sum(count * people for count, people in HITS.items())
# Default tiers 1, 2-9, 10-49, 50+.
PEOPLE_BY_TIER = ["8", "22", "10", "0"]


def send_log() -> list[dict]:
    """A SendGrid event log of a looping workflow, plus newsletter traffic the ledger must ignore."""
    events = []
    n = 0
    for count, people in HITS.items():
        for _ in range(people):
            # Start a minute apart so the burst plot has many bars, not one.
            events += burst(f"hit{n:02d}@example.com", count, start=T0 + timedelta(minutes=n))
            n += 1
    for i in range(3):
        at = T0 + timedelta(minutes=i)
        events.append(sg(f"reader{i}@example.com", "delivered", at, f"news-{i}", category="newsletter"))
    events.append(sg("hit00@example.com", "delivered", T0, "news-hit00", category="newsletter"))
    return events


def log_in(page: Page, username: str) -> None:
    page.goto("/")
    # Anonymous visitors are sent to the login form, which then brings them back.
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Incidents", exact=True)).to_be_visible()


def user_with_password(username: str, role: str) -> None:
    user = make_user(username, role)
    user.set_password(PASSWORD)
    user.save()


@pytest.mark.browser
def test_it_takes_a_marketer_from_an_incident_to_its_ledger(
    page: Page, request_hosts: set[str], page_problems: list[str], tmp_path: Path
) -> None:
    user_with_password("maya", "marketer")
    events = send_log()
    log = write_ndjson(tmp_path / "sendgrid-events.json.gz", events, gz=True)

    log_in(page, "maya")
    page.get_by_role("link", name="Log an incident").click()
    page.get_by_label("Title").fill("Welcome email loop")
    page.get_by_label("What happened").fill("A workflow update re-sent the welcome email in a loop.")
    page.get_by_label("Window start").fill("2026-11-20T13:30")
    page.get_by_label("Faulty workflows or campaigns").fill("wf-bad")
    page.get_by_role("button", name="Log incident").click()
    expect(page.get_by_role("heading", name="Welcome email loop")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("Incident logged")
    expect(page.locator(".meta code")).to_have_text("wf-bad")

    upload = page.locator("form.upload")
    upload.get_by_label("File", exact=True).set_input_files(log)
    upload.get_by_role("button", name="Upload send log").click()

    expect(page.get_by_role("heading", name="Send log: sendgrid-events.json.gz")).to_be_visible()
    expect(page.locator('[data-field="status_label"]')).to_have_text("Done")
    expect(page.locator('[data-field="imported"]')).to_have_text(str(len(events)))
    expect(page.locator('[data-field="rejected"]')).to_have_text("0")
    page.get_by_role("link", name="See who was hit").click()

    expect(page).to_have_url(re.compile(r"/incidents/\d+/#ledger$"))
    # People, messages, most to one person, then the four states: all still subscribed.
    expect(page.locator(".cards .big")).to_have_text([str(PEOPLE), str(MESSAGES), "30", str(PEOPLE), "0", "0", "0"])
    expect(page.locator("table.tiers tbody td")).to_have_text(PEOPLE_BY_TIER)

    # Checked here too so that a page needing a CDN fails naming the host, not as a chart timeout.
    assert request_hosts == {"127.0.0.1"}
    # The plots are drawn on the window's load event, after the deferred Chart.js bundle ran.
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-burst') && Chart.getChart('chart-counts')")
    plotted = page.evaluate(
        """() => Object.fromEntries(['chart-burst', 'chart-counts'].map((id) => {
            const chart = Chart.getChart(id);
            const values = chart.data.datasets[0].data;
            return [id, {sum: values.reduce((a, b) => a + b, 0), labels: chart.data.labels, values: values,
                         drawn: chart.width > 0 && chart.height > 0}];
        }))"""
    )
    assert plotted["chart-burst"]["sum"] == MESSAGES
    assert plotted["chart-burst"]["drawn"]
    # Bins widen with the count: 30 messages falls in 25-49. The bars are drawn per message count in
    # their bin (10 people over 25 counts is 0.4), so a wide bin does not look like a spike.
    counts = dict(zip(plotted["chart-counts"]["labels"], plotted["chart-counts"]["values"], strict=True))
    assert {label: n for label, n in counts.items() if n} == {"1": 8, "2": 12, "5": 10, "25-49": 0.4}
    bins = page.locator("figure table caption", has_text="People per bin").locator("xpath=..")
    expect(bins.locator("tbody td")).to_have_count(len(counts))
    assert sum(int(n) for n in bins.locator("tbody td").all_inner_texts()) == PEOPLE
    assert plotted["chart-counts"]["drawn"]

    screenshot = DOCS_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "incident.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screenshot, full_page=True)

    page.get_by_role("link", name=f"All {PEOPLE} people").click()
    expect(page.get_by_role("heading", name=f"People hit {PEOPLE}")).to_be_visible()
    page.locator("#tier").select_option(label="10-49")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"[?&]tier=2(&|$)"))
    expect(page.get_by_role("heading", name="People hit 10")).to_be_visible()
    expect(page.locator("table.data tbody td:nth-child(2)")).to_have_text(["30"] * 10)

    page.get_by_role("link", name="Welcome email loop").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert re.fullmatch(r"affected-incident-\d+\.csv", download.suggested_filename)
    rows = Path(download.path()).read_text().splitlines()
    assert rows[0] == "email,messages,first_at,last_at,max_in_10_min,state,tier,language"
    assert len(rows) == 1 + PEOPLE
    assert rows[1].startswith("hit00@example.com,30,")

    # Chart.js and everything else is served by Amends itself: the pages work with no internet.
    assert request_hosts == {"127.0.0.1"}
    assert page_problems == []


@pytest.mark.browser
def test_it_shows_a_viewer_the_ledger_but_no_way_to_change_it(page: Page, tmp_path: Path) -> None:
    user_with_password("victor", "viewer")
    incident = IncidentFactory(title="Welcome email loop")
    log = write_ndjson(tmp_path / "log.json", burst("a@example.com", 3) + burst("b@example.com", 1))
    imports.import_local(incident=incident, path=str(log))

    log_in(page, "victor")
    expect(page.get_by_role("link", name="Log an incident")).to_have_count(0)
    page.get_by_role("link", name="Welcome email loop").click()

    expect(page.get_by_role("heading", name="Welcome email loop")).to_be_visible()
    expect(page.locator(".cards .big").nth(0)).to_have_text("2")
    expect(page.locator("form.upload")).to_have_count(0)
    expect(page.get_by_role("button", name="Upload send log")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)


@pytest.mark.browser
def test_it_reloads_the_import_page_when_the_import_finishes(page: Page, page_problems: list[str]) -> None:
    user_with_password("maya", "marketer")
    incident = IncidentFactory(title="Welcome email loop")
    # Queued but not run: with eager Celery an upload finishes inside its request, so the page
    # would never have to poll.
    imp = Import(kind=Import.Kind.SENDLOG, incident=incident, original_name="log.json")
    imp.file.save("log.json", ContentFile(b"".join(orjson.dumps(e) + b"\n" for e in burst("a@example.com", 3))))

    # Held polls wait for this handler, which Playwright's sync API runs only while the test is
    # inside a Playwright call: the import below never shares the database with a poll.
    polls: list[str] = []
    page.route("**/progress/", lambda route: (polls.append(route.request.url), route.continue_()))
    log_in(page, "maya")
    with page.expect_response("**/progress/"):
        page.goto(imp.get_absolute_url())
    expect(page.locator('[data-field="status_label"]')).to_have_text("Queued")
    expect(page.get_by_role("link", name="See who was hit")).to_be_hidden()

    imports.import_run(import_id=imp.id)

    # The link is rendered by the server only for a finished import, so seeing it proves the reload.
    expect(page.get_by_role("link", name="See who was hit")).to_be_visible()
    expect(page.locator('[data-field="status_label"]')).to_have_text("Done")
    expect(page.locator('[data-field="imported"]')).to_have_text("6")
    assert len(polls) >= 2
    assert page_problems == []
