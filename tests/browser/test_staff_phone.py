"""Staff pages on a phone (390 px): the navigation wraps with every link on screen and reachable by keyboard,
wide tables scroll inside themselves, and no page scrolls sideways; at 1280 px the same pages stay as they were."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from apologies.campaigns import lifecycle, planning
from apologies.models import Reply
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person

from .conftest import Screenshots
from .test_campaign_journey import log_in, user_with_password
from .test_public_journey import accessibility_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NAV = [
    "Incidents",
    "Contacts",
    "Suppression list",
    "Outbox",
    "Unmatched replies",
    "Country rules",
    "Watch",
    "Audit log",
    "Privacy",
]


@pytest.fixture
def staff_pages(settings) -> dict[str, str]:
    """The pages to look at, by name, with enough in them to be wide: long addresses, names and replies."""
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    marketer = user_with_password("maya", "marketer")
    # A superuser approver: the longest navigation (audit log, privacy) and the longest name line (two-factor).
    approver = user_with_password("alexandra.montgomery", "approver")
    approver.is_superuser = True
    approver.save()
    incident = IncidentFactory(
        title="Welcome email loop after the workflow migration of the spring newsletter",
        what_happened="A workflow update sent the welcome email again and again.",
    )
    for n, (email, country) in enumerate(
        [
            ("bartholomew.vance@example.com", "US"),
            ("zoe.quinn-alvarez@example.com", "DE"),
            ("sam@example.com", "GB"),
        ]
    ):
        person(incident, email, messages=25 - n * 10, state="unsubscribed" if n == 1 else "subscribed")
        contact(email, country=country, first_name=email.split("@")[0].split(".")[0].title())
    campaign = planning.campaign_create(
        incident=incident, name="We are sorry about the welcome emails", author=marketer
    )
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    Reply.objects.create(
        from_email="someone.with.a.very.long.address@mail.subdomain.example.org",
        subject="Re: We are sorry about the welcome emails you received from us last week",
        text="Who is this? I never signed up for anything and I would like to know where you got my address. " * 2,
    )
    return {
        "incidents": "/incidents/",
        "incident": f"/incidents/{incident.id}/",
        "incident-people": f"/incidents/{incident.id}/people/",
        "campaign": f"/campaigns/{campaign.id}/",
        "campaign-people": f"/campaigns/{campaign.id}/people/",
        "unmatched-replies": "/campaigns/replies/unmatched/",
        "watch": "/watch/",
        "country-rules": "/campaigns/policies/",
        "contacts": "/incidents/contacts/",
        "outbox": "/campaigns/outbox/",
    }


def staff(browser: Browser, base_url: str, viewport: dict, *, javascript: bool = True) -> Page:
    context = browser.new_context(base_url=base_url, viewport=viewport, java_script_enabled=javascript)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, "alexandra.montgomery")
    return page


def page_width(page: Page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def nav_links(page: Page):
    return page.locator("header.top nav a")


def test_it_fits_staff_pages_on_a_phone(browser, base_url, staff_pages, screenshots: Screenshots):
    page = staff(browser, base_url, PHONE)
    widths = {}
    for name, url in staff_pages.items():
        response = page.goto(url)
        assert response.ok, (url, response.status, page.locator("main").inner_text()[:300])
        screenshots.take(page, f"phone-{name}")
        widths[name] = page_width(page)
    assert {name: width for name, width in widths.items() if width > PHONE["width"] + 1} == {}
    for url in staff_pages.values():
        page.goto(url)
        # Every link of the navigation is on screen, whole, without opening anything.
        expect(nav_links(page)).to_have_text([*NAV[:4], "Unmatched replies 1", *NAV[5:]])
        for link in nav_links(page).all():
            expect(link).to_be_visible()
            box = link.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (url, link.text_content(), box)
        # So is the log-out button, and the user's line wraps rather than pushing the page wider.
        logout = page.get_by_role("button", name="Log out").bounding_box()
        assert logout["x"] + logout["width"] <= PHONE["width"], url
        # A wide table scrolls inside itself; it never pushes the page.
        for table in page.locator("table.data").all():
            box = table.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, (url, box)

    # The people of a campaign are wider than a phone: their table scrolls, the page does not.
    page.goto(staff_pages["campaign-people"])
    table = page.get_by_role("table")  # still a table to assistive technology, its rows and cells named
    expect(table.get_by_role("row", name=re.compile("sam@example.com"))).to_be_visible()
    assert table.evaluate("t => t.scrollWidth > t.clientWidth"), "the table should scroll sideways by itself"
    table.evaluate("t => { t.scrollLeft = t.scrollWidth; }")
    assert table.evaluate("t => t.scrollLeft > 0") and page.evaluate("() => window.scrollX") == 0
    screenshots.take(page, "phone-campaign-people-scrolled")
    # The scrolling table is reachable by keyboard (axe's scrollable-region-focusable); the empty header over
    # the Preview links is the template's, as it is at 1280 px.
    violations = accessibility_violations(page)
    assert [v for v in violations if not v.startswith("empty-table-header:")] == []
    page.context.close()


def test_it_reaches_every_link_of_the_phone_navigation_by_keyboard_without_javascript(
    browser, base_url, staff_pages, screenshots
):
    page = staff(browser, base_url, PHONE, javascript=False)
    page.goto(staff_pages["campaign"])
    assert page_width(page) <= PHONE["width"] + 1
    # Tab from the top of the page: the brand, then every link of the navigation, in order.
    page.locator("body").focus()
    reached = []
    for _ in range(len(NAV) + 1):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => document.activeElement.textContent.trim()"))
    assert reached == ["Amends", *NAV[:4], "Unmatched replies 1", *NAV[5:]]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # on "Audit log"
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    assert page_width(page) <= PHONE["width"] + 1
    screenshots.take(page, "phone-audit-log-by-keyboard")
    page.context.close()


def test_it_keeps_staff_pages_as_they_were_at_1280(browser, base_url, staff_pages, screenshots):
    page = staff(browser, base_url, DESKTOP)
    for name, url in staff_pages.items():
        response = page.goto(url)
        assert response.ok, (url, response.status, page.locator("main").inner_text()[:300])
        screenshots.take(page, f"desktop-{name}")
        assert page_width(page) <= DESKTOP["width"], name
        # One line of navigation, as before, and tables laid out as tables.
        tops = {round(link.bounding_box()["y"]) for link in nav_links(page).all()}
        assert len(tops) == 1, (name, tops)
        for table in page.locator("table.data").all():
            assert table.evaluate("t => getComputedStyle(t).display") == "table", name
    page.context.close()
