"""An apology campaign end to end in real Chromium: draft, words, preview, two-person approval, sending, outbox."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from apologies.campaigns import lifecycle, planning
from apologies.models import Campaign, CapturedEmail, Recipient
from apologies.sending import services as sending
from apologies.tests.factories import contact
from conftest import make_user
from incidents import imports as incident_imports
from incidents.tests.factories import T0, IncidentFactory, burst, sg, write_ndjson

PASSWORD = "a-long-browser-test-password"
# Pages worth looking at by eye: SCREENSHOT_DIR=/tmp .venv/bin/pytest tests/browser (else a temporary folder).
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR")
SUBJECT = 'We\'re sorry about all those emails, {{ first_name or "there" }}'

# email -> (messages received, first name or None for no contact). Still subscribed: each gets an email.
SUBSCRIBED = {
    "zoe@example.com": (12, "<b>Zoë</b>"),
    "jose@example.com": (7, "José"),
    "soren@example.com": (5, "Søren"),
    "ana@example.com": (3, "Ana & Léa"),
    "li@example.com": (2, "Li"),
    "mo@example.com": (1, "Mo"),
    "nocontact1@example.com": (4, None),
    "nocontact2@example.com": (1, None),
}
# Unsubscribed with a valid postal address: a letter; only the US ones may be invited back.
UNSUBSCRIBED_US = {"chloe@example.com": (4, "<i>Chloé</i>"), "dwayne@example.com": (2, "Dwayne")}
UNSUBSCRIBED_DE = {"juergen@example.com": (6, "Jürgen")}
# Complained and no contact row: nobody may write to them.
COMPLAINED = {"angry@example.com": (9, None)}


def log_in(page: Page, username: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Incidents", exact=True)).to_be_visible()


def user_with_password(username: str, role: str):
    user = make_user(username, role)
    user.set_password(PASSWORD)
    user.save()
    return user


def incident_with_ledger(tmp_path: Path, people: dict[str, tuple[int, str | None, str, str]]):
    """An incident whose ledger comes from importing a SendGrid log, as staff would build it.

    people: email -> (messages, first name or None, state after the incident, contact country).
    """
    incident = IncidentFactory(title="Welcome email loop")
    events = []
    for n, (email, (messages, first_name, state, country)) in enumerate(people.items()):
        prefix = email.split("@")[0]
        events += burst(email, messages, start=T0 + timedelta(minutes=n), prefix=prefix)
        after = T0 + timedelta(minutes=30)
        if state == "unsubscribed":
            events.append(sg(email, "unsubscribe", after, f"{prefix}-0", event_id=f"{prefix}-u"))
        elif state == "complained":
            events.append(sg(email, "spamreport", after, f"{prefix}-0", event_id=f"{prefix}-s"))
        if first_name is not None:
            contact(email, country=country, first_name=first_name)
    log = write_ndjson(tmp_path / "sendgrid-events.json", events)
    incident_imports.import_local(incident=incident, path=str(log))
    incident.refresh_from_db()
    assert incident.ledger_stats["people"] == len(people)
    return incident


def screenshot(page: Page, tmp_path: Path, name: str) -> None:
    folder = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    page.screenshot(path=folder / f"amends-{name}.png", full_page=True)


def audit_rows(page: Page) -> list[tuple[str, str]]:
    """(who, what) of the audit trail, oldest first."""
    rows = page.locator("table.audit tbody tr")
    who = rows.locator("td:nth-child(2)").all_inner_texts()
    what = rows.locator("td:nth-child(3)").all_inner_texts()
    return list(reversed(list(zip(who, what, strict=True))))


@pytest.mark.browser
def test_it_takes_an_apology_from_draft_to_sent(
    page: Page, request_hosts: set[str], page_problems: list[str], tmp_path: Path, settings
) -> None:
    # The embedded default: emails are kept in the database and shown on the Outbox page.
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    user_with_password("maya", "marketer")
    user_with_password("ana", "approver")
    people = {e: (m, name, "subscribed", "US") for e, (m, name) in SUBSCRIBED.items()}
    people |= {e: (m, name, "unsubscribed", "US") for e, (m, name) in UNSUBSCRIBED_US.items()}
    people |= {e: (m, name, "unsubscribed", "DE") for e, (m, name) in UNSUBSCRIBED_DE.items()}
    people |= {e: (m, name, "complained", "US") for e, (m, name) in COMPLAINED.items()}
    incident_with_ledger(tmp_path, people)

    # The marketer drafts the campaign from the incident.
    log_in(page, "maya")
    page.get_by_role("link", name="Welcome email loop").click()
    page.get_by_role("link", name="New campaign").click()
    expect(page.get_by_role("heading", name="New apology campaign")).to_be_visible()
    page.get_by_label("Name").fill("Sorry for the loop")
    page.get_by_role("button", name="Create campaign").click()

    expect(page.get_by_role("heading", name="Sorry for the loop")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("Campaign created with the default apology")
    expect(page.locator("#campaign-status")).to_have_text("Draft")
    campaign_url = page.url
    # Email, letter, no channel, invited back (the US letters only), cost of 3 letters at 1.50.
    expect(page.locator(".cards .big")).to_have_text(["8", "3", "1", "2", "4.50"])
    # Why: every channel with the reason for it, as the marketer will explain it to the approver.
    by_reason = page.locator("table.data", has=page.locator("caption", has_text="By reason")).locator("tbody tr")
    reasons = by_reason.evaluate_all("rows => rows.map((r) => Array.from(r.cells, (c) => c.textContent.trim()))")
    assert reasons == [
        ["email", "Still subscribed and deliverable", "8"],
        ["letter", "Unsubscribed", "3"],
        ["none", "Complained", "1"],
    ]
    screenshot(page, tmp_path, "campaign-draft")

    # The words: a personalised subject is saved; a misspelt placeholder is refused, naming it.
    page.get_by_role("link", name="Words").click()
    expect(page.get_by_role("heading", name="The words of the apology")).to_be_visible()
    subject = page.get_by_label("Subject")
    subject.fill(SUBJECT)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Saved.")
    expect(page.get_by_label("Subject")).to_have_value(SUBJECT)

    page.get_by_label("Subject").fill("Sorry, {{ frist_name }}")
    with page.expect_response(re.compile(r"/campaigns/templates/\d+/$")) as refused:
        page.get_by_role("button", name="Save", exact=True).click()
    assert refused.value.status == 400
    expect(page.locator(".field.has-error .error")).to_have_text("line 1: unknown placeholder 'frist_name'")
    screenshot(page, tmp_path, "words-refused")
    page.get_by_role("link", name="Sorry for the loop").click()
    page.get_by_role("link", name="Words").click()
    expect(page.get_by_label("Subject")).to_have_value(SUBJECT)

    # The people who get a letter, and one person's preview with their own data, escaped.
    page.get_by_role("link", name="Sorry for the loop").click()
    page.get_by_role("link", name="People").click()
    page.locator("#channel").select_option("letter")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"[?&]channel=letter(&|$)"))
    expect(page.get_by_role("heading", name="Who gets what 3")).to_be_visible()
    rows = page.locator("table.data tbody tr")
    expect(rows.locator("td:first-child")).to_have_text(
        ["juergen@example.com", "chloe@example.com", "dwayne@example.com"]
    )
    # Invited back: the US letters, not the German one.
    expect(rows.locator("td:nth-child(7)")).to_have_text(["no", "yes", "yes"])
    rows.filter(has_text="chloe@example.com").get_by_role("link", name="Preview").click()

    chloe = Recipient.objects.get(campaign__name="Sorry for the loop", email="chloe@example.com")
    expect(page.get_by_role("heading", name="chloe@example.com")).to_be_visible()
    expect(page.locator(".meta")).to_contain_text("channel Letter (Unsubscribed)")
    expect(page.locator(".meta")).to_contain_text("invited back")
    expect(page.locator(".meta")).to_contain_text(chloe.short_code)
    # A letter recipient is shown their letter's pages, not an email that will never be sent.
    expect(page.get_by_role("heading", name="The letter")).to_be_visible()
    expect(page.locator("dl.headers")).to_have_count(0)
    page.get_by_role("button", name="Draw the letter").click()  # a worker draws it (eager in this suite)
    expect(page.get_by_role("img", name=re.compile("Page 1 of the letter to chloe@example.com"))).to_be_visible()
    screenshot(page, tmp_path, "preview-letter")

    # An email recipient's preview: the subject, the branded HTML part and the text part, markup as text.
    zoe = Recipient.objects.get(campaign__name="Sorry for the loop", email="zoe@example.com")
    page.goto(f"/campaigns/people/{zoe.id}/")
    expect(page.locator("dl.headers dd").first).to_have_text("We're sorry about all those emails, <b>Zoë</b>")
    email_html = page.frame_locator("iframe.email-preview")
    expect(email_html.locator("body")).to_contain_text("Hi <b>Zoë</b>,")
    expect(email_html.locator("body")).to_contain_text("you received 12 emails from us")
    expect(email_html.locator("p.footer")).to_contain_text("Unsubscribe")
    # The name's markup is text: no element came from it.
    expect(email_html.locator(".amends-body b")).to_have_count(0)
    text = page.locator("pre.email-text")
    expect(text).to_contain_text("Hi <b>Zoë</b>,")
    expect(text).to_contain_text("you received 12 emails from us")
    expect(page.locator("table.data")).to_contain_text("12 emails")

    # Submitted: the author is told a second person has to approve.
    page.get_by_role("link", name="Sorry for the loop").click()
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator(".messages")).to_have_text("Submitted: an approver other than you has to approve it.")
    expect(page.locator("#campaign-status")).to_have_text("Submitted for approval")
    expect(page.get_by_text("You wrote it, so you cannot approve it yourself.")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    # The approver, a different person, approves and starts sending.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    log_in(page, "ana")
    page.goto(campaign_url)
    expect(page.locator("#campaign-status")).to_have_text("Submitted for approval")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator(".messages")).to_have_text("Approved.")
    expect(page.locator("#campaign-status")).to_have_text("Approved")
    expect(page.locator("#next-step + p")).to_contain_text("by ana")
    page.get_by_role("button", name="Start sending").click()

    expect(page.locator("#campaign-status")).to_have_text("Completed")
    expect(page.locator(".progress-box progress")).to_have_attribute("value", "100")
    box = page.locator(".progress-box")
    for field, value in {"queued": "0", "sent": "8", "failed": "0", "skipped": "0", "review": "0"}.items():
        expect(box.locator(f'[data-field="{field}"]')).to_have_text(value)
    expect(page.get_by_text("Every email was handed over. 8 sent.")).to_be_visible()
    assert audit_rows(page) == [
        ("maya", "created"),
        ("maya", "edited"),
        ("maya", "submitted for approval"),
        ("ana", "approved"),
        ("ana", "sending started"),
        ("Amends", "completed"),
    ]
    audit = page.locator("table.audit tbody tr")
    expect(audit.filter(has_text="sending started")).to_contain_text("8 emails queued")
    expect(audit.filter(has_text="completed")).to_contain_text("8 sent")
    screenshot(page, tmp_path, "campaign-completed")

    # The outbox: one email per subscribed person, none to anyone who objected.
    page.get_by_role("link", name="Outbox").click()
    expect(page.get_by_role("heading", name="Outbox 8")).to_be_visible()
    to = page.locator("table.data tbody td:nth-child(2)")
    expect(to).to_have_count(8)
    assert sorted(to.all_inner_texts()) == sorted(SUBSCRIBED)
    assert sorted(CapturedEmail.objects.values_list("to", flat=True)) == sorted(SUBSCRIBED)
    subjects = dict(
        page.locator("table.data tbody tr").evaluate_all("""rows => rows.map(
        (r) => [r.cells[1].textContent, r.cells[2].textContent])""")
    )
    assert subjects["nocontact1@example.com"] == "We're sorry about all those emails, there"
    assert subjects["jose@example.com"] == "We're sorry about all those emails, José"

    page.locator("table.data tbody tr").filter(has_text="zoe@example.com").get_by_role("link").click()
    expect(page.get_by_role("heading", name="We're sorry about all those emails, <b>Zoë</b>")).to_be_visible()
    headers = page.locator("dl.headers")
    expect(headers.locator("dt:text-is('To') + dd")).to_have_text("zoe@example.com")
    expect(headers.locator("dt:text-is('List-Unsubscribe') + dd")).to_have_text(
        re.compile(r"^<https?://[^>]+/u/[^>]+>, <mailto:unsubscribe\+[^>]+@replies\.amends\.localhost>$")
    )
    expect(headers.locator("dt:text-is('List-Unsubscribe-Post') + dd")).to_have_text("List-Unsubscribe=One-Click")
    outbox_html = page.frame_locator("iframe.email-preview")
    expect(outbox_html.locator("body")).to_contain_text("Hi <b>Zoë</b>,")
    expect(outbox_html.locator("b")).to_have_count(0)
    # Subscribed people are not invited back: they never left.
    expect(outbox_html.locator("p.invitation")).to_have_count(0)
    expect(page.locator("pre.email-text")).to_contain_text("you received 12 emails from us")
    screenshot(page, tmp_path, "outbox-email")

    assert request_hosts == {"127.0.0.1"}
    # The refused save answers 400 on purpose (and Chromium logs that status); nothing else may fail.
    refused_url = refused.value.url
    assert sorted(page_problems) == sorted(
        [
            f"HTTP 400: {refused_url}",
            "console error: Failed to load resource: the server responded with a status of 400 (Bad Request)",
        ]
    )


@pytest.mark.browser
def test_it_pauses_a_sending_campaign(
    page: Page, page_problems: list[str], tmp_path: Path, settings, monkeypatch
) -> None:
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    maya = user_with_password("maya", "marketer")
    ana = user_with_password("ana", "approver")
    people = {f"p{i}@example.com": (2 + i, f"P{i}", "subscribed", "US") for i in range(3)}
    incident = incident_with_ledger(tmp_path, people)
    campaign = planning.campaign_create(incident=incident, name="Sorry for the loop", author=maya)
    lifecycle.campaign_submit(campaign=campaign, user=maya)
    lifecycle.campaign_approve(campaign=campaign, user=ana)
    # Sending started but no sender has picked anything up yet: with eager Celery under
    # transactional_db the senders would otherwise send everything as campaign_start commits.
    with monkeypatch.context() as m:
        m.setattr(sending, "senders_enqueue", lambda campaign: None)
        assert sending.campaign_start(campaign=campaign, user=ana) == 3

    log_in(page, "ana")
    with page.expect_response("**/progress/") as poll:
        page.goto(campaign.get_absolute_url())
    assert poll.value.json()["status"] == "sending"
    expect(page.locator("#campaign-status")).to_have_text("Sending")
    expect(page.locator('.progress-box [data-field="queued"]')).to_have_text("3")

    page.get_by_label("Why pause").fill("Support asked us to wait <until 3pm>")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#campaign-status")).to_have_text("Paused")
    expect(page.locator(".messages")).to_contain_text("Paused: at most the batch already handed to the ESP goes out.")
    expect(page.get_by_role("alert")).to_have_text("Paused: Support asked us to wait <until 3pm>")
    expect(page.locator('.progress-box [data-field="queued"]')).to_have_text("3")
    assert CapturedEmail.objects.count() == 0

    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#campaign-status")).to_have_text("Completed")
    expect(page.locator('.progress-box [data-field="sent"]')).to_have_text("3")
    expect(page.get_by_role("alert")).to_have_count(0)
    assert sorted(CapturedEmail.objects.values_list("to", flat=True)) == sorted(people)
    assert Campaign.objects.get(id=campaign.id).status == Campaign.Status.COMPLETED
    assert audit_rows(page) == [
        ("maya", "created"),
        ("maya", "submitted for approval"),
        ("ana", "approved"),
        ("ana", "sending started"),
        ("ana", "paused"),
        ("ana", "resumed"),
        ("Amends", "completed"),
    ]
    expect(page.locator("table.audit tbody tr").filter(has_text="paused")).to_contain_text("Support asked us to wait")
    assert page_problems == []
