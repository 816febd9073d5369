"""The way back, in Chromium: a person types the code from their letter on a phone, confirms by
email, and staff see the re-signup and a classified reply on the results page."""

from __future__ import annotations

import base64
import json
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from apologies import links
from apologies.campaigns import lifecycle, planning
from apologies.models import CapturedEmail, Consent
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from conftest import make_user
from incidents.models import Suppression

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def letter(settings):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret"}
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
    return campaign.recipients.get(email="zoe@example.com")


def phone(browser: Browser, base_url: str, *, javascript: bool = True, shots=None) -> Page:
    context = browser.new_context(base_url=base_url, viewport=PHONE, java_script_enabled=javascript, is_mobile=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    return shots.watch(page) if shots else page


def accessibility_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


def test_it_takes_a_letter_reader_back_and_shows_it_to_staff(browser, base_url, letter, live_server, screenshots):
    page = phone(browser, base_url, shots=screenshots)
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(re.sub(r"^\w+://([^/:]+).*$", r"\1", r.url)))

    # The letter says example.com/sorry: no slash, lower case, spaces where the dash was.
    page.goto("/sorry")
    expect(page.get_by_role("heading", name="We're sorry")).to_be_visible()
    assert accessibility_violations(page) == []
    page.get_by_label("The code from your letter").fill("zzzz zzzz")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("We could not find that code")
    page.get_by_label("The code from your letter").fill(letter.short_code.lower().replace("-", " "))
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Zoë, we're sorry")).to_be_visible()
    expect(page.get_by_text("sent you 25 emails")).to_be_visible()
    assert accessibility_violations(page) == []
    assert not Consent.objects.exists()  # looking changes nothing
    page.get_by_role("button", name=re.compile("Yes, send emails")).click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("z***@example.com")
    assert Suppression.objects.filter(email="zoe@example.com", reason="unsubscribed").exists()

    # The confirmation email, as the person would open it.
    email = CapturedEmail.objects.get(to="zoe@example.com")
    link = re.search(r"https?://\S+/sorry/confirm/\S+", email.text).group(0)
    page.goto("/sorry/" + link.split("/sorry/", 1)[1])
    expect(page.get_by_role("heading", name="Confirm")).to_be_visible()
    page.get_by_role("button", name="Yes, confirm").click()
    expect(page.get_by_role("status")).to_have_text(re.compile(r"You are subscribed again as\s+z\*\*\*@example.com"))
    assert not Suppression.objects.filter(email="zoe@example.com", reason="unsubscribed").exists()
    assert hosts == {"127.0.0.1"}

    # A thank-you arrives through the inbound webhook.
    sam = letter.campaign.deliveries.get(email="sam@example.com")
    payload = {
        "FromFull": {"Email": "sam@example.com", "Name": "Sam"},
        "ToFull": [{"Email": links.reply_address(sam.id), "Name": ""}],
        "Subject": "Re: We're sorry",
        "TextBody": "Thanks for owning up, no harm done.",
        "Headers": [],
    }
    auth = "Basic " + base64.b64encode(b"hook:s3cret").decode()
    response = Client().post(
        "/anymail/postmark/inbound/", json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 200

    staff = screenshots.watch(browser.new_context(base_url=base_url).new_page())
    user = make_user("viewer1", "viewer")
    user.set_password("pw-Amends-1")
    user.save()
    staff.goto("/login/")
    staff.get_by_label("Username").fill("viewer1")
    staff.get_by_label("Password").fill("pw-Amends-1")
    staff.get_by_role("button", name="Log in").click()
    staff.goto(f"/campaigns/{letter.campaign_id}/results/")
    expect(staff.locator(".funnel")).to_contain_text("1 subscribed again")
    expect(staff.locator(".replies-cards")).to_contain_text("1 thank you")
    staff.goto(f"/campaigns/{letter.campaign_id}/replies/")
    expect(staff.locator("article.reply")).to_contain_text("Thanks for owning up")
    staff.context.close()
    page.context.close()


def test_it_works_without_javascript(browser, base_url, letter, screenshots):
    page = phone(browser, base_url, javascript=False, shots=screenshots)
    page.goto("/sorry/")
    page.get_by_label("The code from your letter").fill(letter.short_code)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name=re.compile("No thanks")).click()
    expect(page.get_by_role("heading", name="You stay unsubscribed")).to_be_visible()
    assert Consent.objects.get().choice == "stay_unsubscribed"
    page.context.close()
