"""Every public page in Chromium on a phone, each with the accessibility check and the campaign's brand,
and the staff pages of issue 12: a letter recipient's preview as page images, a viewer's 403, the time zone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from apologies import links
from apologies.campaigns import lifecycle, planning
from apologies.models import CapturedEmail, Consent
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Suppression

from .conftest import Screenshots
from .test_campaign_journey import log_in, user_with_password
from .test_public_journey import PHONE, accessibility_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BRAND = "The MINI USA team"


@pytest.fixture
def campaign(settings, base_url):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    # Links follow the served address, as `PORT=8101 make run` needs: every emailed link must open as is.
    settings.SITE_URL = base_url
    marketer = user_with_password("maya", "marketer")
    approver = user_with_password("ana", "approver")
    incident = IncidentFactory(what_happened="A workflow update sent the welcome email again and again.")
    person(incident, "zoe@example.com", state="unsubscribed", messages=25)
    contact("zoe@example.com", first_name="Zoë")
    person(incident, "sam@example.com", messages=1)
    person(incident, "lena@example.com", state="unsubscribed", messages=4)
    contact("lena@example.com", first_name="Lena", country="DE")
    Suppression.objects.create(email="zoe@example.com", reason="unsubscribed")
    campaign = planning.campaign_create(
        incident=incident,
        name="Sorry",
        author=marketer,
        brand_name=BRAND,
        brand_color="#ffd200",
        sender_name=BRAND,
        gift_tiers=[0, 1, 2, 3],
    )
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    return campaign


def phone(browser: Browser, base_url: str) -> Page:
    context = browser.new_context(base_url=base_url, viewport=PHONE, is_mobile=True)
    context.set_default_timeout(10_000)
    return context.new_page()


def checked(page: Page, heading: str | re.Pattern, shots: Screenshots) -> None:
    """The page shows its heading, wears the campaign's brand (or the site's) and passes the axe check; then
    it is shot (once its heading is there, not on a load event a page replaced at once can miss)."""
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    assert accessibility_violations(page) == [], page.url
    shots.take(page)


def test_it_shows_every_public_page_branded_and_accessible(browser, base_url, campaign, screenshots, settings):
    page = phone(browser, base_url)
    zoe = campaign.recipients.get(email="zoe@example.com")

    # However the letter's address is typed, and a code typed into the path.
    for typed in ("/SORRY", "/Sorry/", "/sorry"):
        response = page.goto(typed)
        assert response.ok and page.url.endswith("/sorry/"), typed
    checked(page, "We're sorry", screenshots)
    expect(page.get_by_role("link", name=re.compile("Amends"))).to_have_count(0)
    assert page.locator("link[rel=icon]").count() == 1 and page.request.get("/favicon.ico").ok

    page.get_by_label("The code from your letter").fill("zzzz zzzz")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("We could not find that code")
    checked(page, "We're sorry", screenshots)

    page.goto(f"/sorry/{zoe.short_code}")
    checked(page, "Zoë, we're sorry", screenshots)
    expect(page.locator("header.brand")).to_have_text(BRAND)
    expect(page).to_have_title(f"We're sorry · {BRAND}")
    expect(page.get_by_text("sent you 25 emails")).to_be_visible()

    # Yes, from a typed code: waiting for the confirmation, and it says so however often the page is seen.
    page.get_by_role("button", name=re.compile("Yes, send emails")).click()
    checked(page, "Check your inbox", screenshots)
    expect(page.get_by_role("status").first).to_contain_text("waiting for you to confirm")
    page.reload()  # a GET: nothing is posted again
    checked(page, "Check your inbox", screenshots)
    assert Consent.objects.count() == 1 and CapturedEmail.objects.filter(to="zoe@example.com").count() == 1
    page.go_back()
    page.reload()
    checked(page, "Zoë, we're sorry", screenshots)
    expect(page.get_by_role("status")).to_contain_text("waiting for you to confirm from the email we sent to z***@")
    expect(page.get_by_text("You already chose")).to_have_count(0)

    # The confirmation email, branded, opened as the person would.
    email = CapturedEmail.objects.get(to="zoe@example.com")
    assert BRAND in email.from_email
    link = re.search(r"https?://\S+/sorry/confirm/\S+", email.text).group(0)
    assert link.startswith(base_url)
    page.goto(link)
    checked(page, "Confirm", screenshots)
    page.get_by_role("button", name="Yes, confirm").click()
    checked(page, "You are subscribed again", screenshots)
    page.reload()
    checked(page, "You are subscribed again", screenshots)

    page.goto("/sorry/not-a-real-link-at-all-but-long-enough")
    checked(page, "This link is not valid", screenshots)

    # The unsubscribe page of an email: brand name and colour filled, the button readable.
    sam = campaign.deliveries.get(email="sam@example.com")
    sent = CapturedEmail.objects.get(to="sam@example.com")
    visible = re.search(r"no more email from us: (\S+)", sent.text).group(1)  # the link in the body
    assert visible == f"{base_url}/u/{links.unsubscribe_token(sam.id)}" and "Springfield" in sent.text
    page.goto(visible)
    checked(page, "Unsubscribe", screenshots)
    expect(page).to_have_title(f"Unsubscribe · {BRAND}")
    button = page.get_by_role("button", name="Yes, unsubscribe me")
    colors = button.evaluate("b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]")
    assert colors == ["rgb(0, 0, 0)", "rgb(255, 210, 0)"]
    button.click()
    checked(page, "You are unsubscribed", screenshots)
    page.reload()
    checked(page, "You are unsubscribed", screenshots)
    page.goto(f"/u/{links.unsubscribe_token(sam.id)}xx")
    checked(page, "This link is not valid", screenshots)

    settings.AMENDS_CODE_TRIES = 0
    page.goto("/sorry/")
    checked(page, "Please try again later", screenshots)
    assert len(list(screenshots.folder.glob("*.png"))) == 15
    page.context.close()  # no keep-alive connection outlives the test and its live server thread


@pytest.mark.parametrize(("scheme", "ink"), [("light", "rgb(28, 27, 31)"), ("dark", "rgb(230, 225, 229)")])
def test_it_sends_an_email_readable_on_a_phone_in_light_and_dark_mode(browser, campaign, screenshots, scheme, ink):
    email = CapturedEmail.objects.get(to="sam@example.com")
    context = browser.new_context(viewport=PHONE, is_mobile=True, color_scheme=scheme)
    page = context.new_page()
    page.set_content(email.html)
    body = page.locator(".amends-body")
    expect(body).to_contain_text("you received 1 email from us")
    assert body.evaluate("b => getComputedStyle(b).color") == ink
    assert "serif" not in body.evaluate("b => getComputedStyle(b).fontFamily").replace("sans-serif", "")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    expect(page.get_by_role("link", name="Unsubscribe")).to_be_visible()
    screenshots.take(page, f"email-{scheme}")
    context.close()


def test_it_shows_staff_a_letter_as_pages_and_a_viewer_a_branded_403(browser, base_url, campaign, screenshots):
    page = screenshots.watch(browser.new_context(base_url=base_url).new_page())
    log_in(page, "maya")
    zoe = campaign.recipients.get(email="zoe@example.com")
    page.goto(f"/campaigns/people/{zoe.id}/")
    expect(page.get_by_role("heading", name="The letter")).to_be_visible()
    expect(page.get_by_role("heading", name="The email")).to_have_count(0)
    page.get_by_role("button", name="Draw the letter").click()  # a worker draws it (eager in this suite)
    pages = page.get_by_role("img", name=re.compile("Page 1 of the letter"))
    expect(pages).to_be_visible()
    assert pages.evaluate("img => img.complete && img.naturalWidth > 100")
    screenshots.take(page, "letter-preview-loaded")

    lena = campaign.recipients.get(email="lena@example.com")  # DE, objected: letter, no gift, no invitation
    assert (lena.channel, lena.gift, lena.invite_allowed) == ("letter", False, False)

    page.goto(f"/campaigns/{campaign.id}/people/")
    row = page.get_by_role("row", name=re.compile("sam@example.com"))
    expect(row).not_to_contain_text(zoe.short_code)
    expect(page.get_by_role("row", name=re.compile("zoe@example.com"))).to_contain_text(zoe.short_code)

    page.goto("/campaigns/policies/")
    de = page.get_by_role("row", name=re.compile(r"^DE "))
    expect(de).to_contain_text("allowed")  # the apology letter
    expect(de).to_contain_text("no gift")
    expect(de).to_contain_text("apology only")
    page.goto(f"/campaigns/{campaign.id}/results/")
    expect(page.get_by_text(re.compile(r"reserved at approval|spent on 0 letters"))).to_have_count(1)

    page.get_by_role("link", name=re.compile("times in UTC")).click()
    page.get_by_label("Time zone").select_option("America/New_York")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="times in America/New_York")).to_be_visible()

    viewer = screenshots.watch(browser.new_context(base_url=base_url).new_page())
    user_with_password("victor", "viewer")
    log_in(viewer, "victor")
    response = viewer.goto("/incidents/new/")
    assert response.status == 403
    expect(viewer.get_by_role("heading", name="You cannot do this")).to_be_visible()
    expect(viewer.get_by_role("link", name="Back to the incidents")).to_be_visible()
    assert accessibility_violations(viewer) == []
    viewer.context.close()
    page.context.close()
