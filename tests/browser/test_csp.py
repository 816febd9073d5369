"""The Content-Security-Policy in Chromium: public and staff journeys log no violation and keep their looks."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from apologies import links
from apologies.campaigns import lifecycle, planning
from apologies.models import CapturedEmail
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from conftest import make_user
from incidents.models import Suppression

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def campaign(settings):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    settings.AMENDS_BRAND_COLOR = "#0b57d0"
    marketer = make_user("maya", "marketer")
    approver = make_user("ana", "approver")
    incident = IncidentFactory(what_happened="A workflow update sent the welcome email again and again.")
    person(incident, "zoe@example.com", state="unsubscribed", messages=25)
    contact("zoe@example.com", first_name="Zoë")
    person(incident, "sam@example.com", messages=4)
    Suppression.objects.create(email="zoe@example.com", reason="unsubscribed")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    return campaign


def watch(page: Page) -> list[str]:
    """Every CSP violation the page reports, as a console message or a securitypolicyviolation event."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: found.append(f"script error: {e}"))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return found


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_it_walks_the_public_pages_without_a_violation(browser: Browser, base_url, campaign):
    page = browser.new_context(base_url=base_url).new_page()
    violations = watch(page)
    zoe = campaign.recipients.get(email="zoe@example.com")

    response = page.goto("/sorry/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    # The brand's colour still reaches the page, now from brand.css instead of an inline <style>.
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    assert accent == "#0b57d0"
    page.get_by_label("The code from your letter").fill("zzzz zzzz")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("We could not find that code")
    page.get_by_label("The code from your letter").fill(zoe.short_code)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Zoë, we're sorry")).to_be_visible()
    page.get_by_role("button", name=re.compile("Yes, send emails")).click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    link = re.search(r"https?://\S+/sorry/confirm/\S+", CapturedEmail.objects.get(to="zoe@example.com").text)
    page.goto("/sorry/" + link.group(0).split("/sorry/", 1)[1])
    page.get_by_role("button", name="Yes, confirm").click()
    expect(page.get_by_role("status")).to_contain_text("subscribed again")

    sam = campaign.deliveries.get(email="sam@example.com")
    page.goto("/u/" + links.unsubscribe_token(sam.id))
    page.goto("/sorry/not-a-token")
    assert violations == []


def test_it_walks_staff_pages_without_a_violation(browser: Browser, base_url, campaign):
    incident = campaign.incident
    for user in User.objects.all():
        user.set_password("pw-Amends-1")
        user.save()
    User.objects.create_superuser("root", "root@example.org", "pw-Amends-1")
    page = browser.new_context(base_url=base_url).new_page()
    violations = watch(page)
    log_in(page, "maya", "pw-Amends-1")
    for url in [
        "/incidents/",
        f"/incidents/{incident.id}/",
        f"/incidents/{incident.id}/people/",
        f"/campaigns/{campaign.id}/",
        f"/campaigns/{campaign.id}/people/",
        f"/campaigns/{campaign.id}/results/",
        "/campaigns/outbox/",
        "/incidents/contacts/",
    ]:
        response = page.goto(url)
        assert response.status == 200, url
    page.goto(f"/campaigns/{campaign.id}/")
    page.once("dialog", lambda dialog: dialog.dismiss())  # the cancel button asks first, from amends.js
    cancel = page.locator("form.cancel button")
    if cancel.count():
        cancel.click()
        expect(page).to_have_url(re.compile(rf"/campaigns/{campaign.id}/$"))
    page.get_by_role("button", name="Log out").click()
    log_in(page, "root", "pw-Amends-1")
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto("/audit/")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    page.goto("/privacy/")
    page.get_by_label("Email address").fill("zoe@example.com")
    page.get_by_role("button", name="Look up").click()
    page.once("dialog", lambda dialog: dialog.dismiss())  # erasing asks first
    page.get_by_label("Type the address again to confirm").fill("zoe@example.com")
    page.get_by_role("button", name="Erase this person").click()
    expect(page.get_by_role("button", name="Erase this person")).to_be_visible()
    assert Suppression.objects.filter(email="zoe@example.com").exists()  # dismissed: nothing erased
    assert violations == []
