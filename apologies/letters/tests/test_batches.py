"""Batches for the mail house: order, sheets, manifest, held-out addresses, statuses and returns."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apologies.campaigns import fingerprint, lifecycle
from apologies.campaigns import models as campaigns_models
from apologies.letters import layout, returns
from apologies.letters import services as letter_batches
from apologies.models import Delivery, Letter, LetterBatch, LetterSettings
from apologies.sending import services as sending
from apologies.tests.letters_factories import letter_campaign, pdf_page_count, pdf_pages
from incidents.models import Contact, Suppression

pytestmark = pytest.mark.django_db

SENDER = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"


def started(marketer, approver, people: dict[str, dict], **fields):
    campaign = letter_campaign(marketer, approver, people=people, **fields)
    ls = layout.letter_settings(campaign)
    ls.return_address = SENDER
    ls.save()
    return campaign


def render_all(campaign, user, callbacks, **kwargs) -> list[LetterBatch]:
    with callbacks(execute=True):
        run = letter_batches.batches_create(campaign=campaign, user=user, **kwargs)
    for batch in run.batches:
        batch.refresh_from_db()
    return run.batches


def manifest_rows(batch: LetterBatch) -> list[dict]:
    return list(csv.DictReader(io.StringIO(letter_batches.batch_manifest(batch=batch))))


def test_it_sorts_letters_by_country_and_postal_code_across_batches(
    marketer, approver, django_capture_on_commit_callbacks, settings
):
    # A mail house whose inserter holds the sheet tightly: the UK's 5-line address fits a #10 window.
    settings.AMENDS_LETTERS_INSERT_SLACK_IN = {"us10": 0.08}
    people = {
        "us-ca@example.com": {"first_name": "Cal"},
        "us-ny@example.com": {"first_name": "Nia", "city": "New York", "region": "NY", "postal_code": "10001"},
        "de@example.com": {"country": "DE", "first_name": "Jürgen"},
        "fr@example.com": {"country": "FR", "first_name": "Léa"},
        "gb@example.com": {"country": "GB", "first_name": "Søren"},
    }
    campaign = started(marketer, approver, people)
    batches = render_all(campaign, approver, django_capture_on_commit_callbacks, size=2)

    assert [(b.number, b.letters_count, b.status) for b in batches] == [
        (1, 2, "ready"),
        (2, 2, "ready"),
        (3, 1, "ready"),
    ]
    order = list(Letter.objects.filter(campaign=campaign).values_list("sequence", "country", "postal_code"))
    assert order == [
        (1, "DE", "10115"),
        (2, "FR", "75001"),
        (3, "GB", "SW1A 2AA"),
        (4, "US", "10001"),
        (5, "US", "94043"),
    ]
    assert [r["sequence"] for r in manifest_rows(batches[1])] == ["3", "4"]
    assert campaign.audit.filter(action="letters batched", detail="5 letters in 3 batches").exists()
    # Nothing is left to batch: a second run makes no empty batch.
    assert letter_batches.batches_create(campaign=campaign, user=approver).batches == []


def test_it_starts_every_letter_on_a_new_sheet_and_the_pages_match_the_manifest(
    marketer, approver, django_capture_on_commit_callbacks
):
    people = {f"p{i}@example.com": {"first_name": f"Person{i}", "messages": 60 if i == 1 else 3} for i in range(3)}
    campaign = letter_campaign(marketer, people=people)
    long = campaign.templates.get()
    long.pk, long.tier = None, 3  # people with 50+ emails get a longer letter
    long.letter_body = "<p>Dear {{ first_name }},</p>" + "<p>We are very sorry about all of it.</p>" * 40
    long.save()
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    [batch] = render_all(campaign, approver, django_capture_on_commit_callbacks)

    with batch.pdf.open("rb") as f:
        pdf = f.read()
    rows = manifest_rows(batch)
    pages = pdf_pages(pdf)
    assert pdf_page_count(pdf) == batch.pages == len(pages)
    assert [(r["name"], r["first_page"], r["last_page"], r["pages"], r["sheets"]) for r in rows] == [
        ("Person0 Doe", "1", "2", "2", "1"),  # the page ranges count the blank backs
        ("Person1 Doe", "3", "4", "2", "1"),
        ("Person2 Doe", "5", "6", "2", "1"),
    ]
    # Duplex: a blank back after each one-page letter; 6 pages, 3 sheets.
    assert (batch.pages, batch.sheets) == (6, 3)
    assert pages[1].strip() == "" and pages[5].strip() == ""
    for row in rows:
        first, last = int(row["first_page"]), int(row["last_page"])
        assert f"Dear {row['name'].split()[0]}," in pages[first - 1]
        assert row["address_1"] in pages[first - 1]
        assert all(row["name"] not in page for n, page in enumerate(pages, 1) if not first <= n <= last)


def test_it_prints_one_side_without_blank_backs(marketer, approver, django_capture_on_commit_callbacks):
    campaign = started(
        marketer, approver, {f"p{i}@example.com": {} for i in range(3)}, letter_settings={"duplex": False}
    )
    [batch] = render_all(campaign, approver, django_capture_on_commit_callbacks)
    assert (batch.pages, batch.sheets) == (3, 3)
    assert [r["first_page"] for r in manifest_rows(batch)] == ["1", "2", "3"]


def test_it_writes_a_manifest_safe_from_spreadsheet_formulas(marketer, approver, django_capture_on_commit_callbacks):
    people = {"x@example.com": {"first_name": '=HYPERLINK("http://evil.example")', "address_line2": "@SUM(1+1)"}}
    campaign = started(marketer, approver, people)
    [batch] = render_all(campaign, approver, django_capture_on_commit_callbacks)
    [row] = manifest_rows(batch)
    assert row["name"] == """'=HYPERLINK("http://evil.example") Doe"""
    assert row["address_1"].startswith("'=HYPERLINK")
    assert row["address_3"] == "'@SUM(1+1)"
    assert all(not value.startswith(("=", "+", "-", "@")) for value in row.values())


def test_it_holds_out_a_bad_address_and_puts_it_back_once_fixed_in_the_browser(
    marketer, approver, marketer_client, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver, {"ok@example.com": {}, "moved@example.com": {"first_name": "Mo"}})
    # The address went bad after the campaign was planned (an import, a typo fixed the wrong way).
    moved = Contact.objects.get(email="moved@example.com")
    Contact.objects.filter(id=moved.id).update(
        postal_code="", address_valid=False, address_problems="postal code missing"
    )

    with django_capture_on_commit_callbacks(execute=True):
        run = letter_batches.batches_create(campaign=campaign, user=approver)
    assert [(h.recipient.email, h.reason) for h in run.held] == [("moved@example.com", "postal code missing")]
    assert [letter.recipient.email for letter in Letter.objects.all()] == ["ok@example.com"]
    assert [h.recipient.email for h in letter_batches.letters_held(campaign=campaign)] == ["moved@example.com"]
    page = marketer_client.get(reverse("apologies:letters", args=[campaign.id])).content.decode()
    assert "postal code missing" in page and reverse("incidents:contact_edit", args=[moved.id]) in page

    # Fixed through the contact page: the address is checked again and the letter goes in the next batch.
    form = {
        "email": moved.email,
        "first_name": "Mo",
        "last_name": "Doe",
        "address_line1": "1600 Amphitheatre Pkwy",
        "address_line2": "",
        "city": "Mountain View",
        "region": "CA",
        "postal_code": "94043",
        "country": "US",
        "language": "en",
    }
    response = marketer_client.post(reverse("incidents:contact_edit", args=[moved.id]), form)
    assert response.status_code == 302
    assert letter_batches.letters_held(campaign=campaign) == []
    with django_capture_on_commit_callbacks(execute=True):
        run = letter_batches.batches_create(campaign=campaign, user=approver)
    assert run.held == [] and [b.number for b in run.batches] == [2]
    assert Letter.objects.get(recipient__email="moved@example.com").sequence == 2


def test_it_skips_people_who_asked_never_to_be_contacted_again(marketer, approver):
    campaign = started(marketer, approver, {"a@example.com": {}, "b@example.com": {}})
    Suppression.objects.create(email="b@example.com", reason=Suppression.Reason.NEVER_AGAIN)
    run = letter_batches.batches_create(campaign=campaign, user=approver)
    assert run.never_again == 1 and run.letters == 1
    assert Delivery.objects.get(email="b@example.com", channel="letter").status == Delivery.Status.SKIPPED


def test_it_refuses_batches_before_sending_starts_or_without_a_return_address(marketer, approver):
    campaign = letter_campaign(marketer, approver, people={"a@example.com": {}}, start=False)
    with pytest.raises(campaigns_models.CampaignError, match="once sending has started"):
        letter_batches.batches_create(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    # Approved before submission checked the return address: the approval covers a name alone.
    LetterSettings.objects.filter(campaign=campaign).update(return_address="Amends demo")
    campaigns_models.Campaign.objects.filter(id=campaign.id).update(
        approved_parts=fingerprint.campaign_fingerprint(campaign=campaign)
    )
    campaign.refresh_from_db()
    with pytest.raises(campaigns_models.CampaignError, match="Add the return address"):
        letter_batches.batches_create(campaign=campaign, user=approver)


def test_it_renders_a_batch_once_and_takes_over_a_dead_workers_batch(marketer, approver):
    campaign = started(marketer, approver, {"a@example.com": {}})
    [batch] = letter_batches.batches_create(
        campaign=campaign, user=approver
    ).batches  # no worker yet: on_commit not run

    # Another worker holds it and is alive: this one leaves it alone.
    LetterBatch.objects.filter(id=batch.id).update(claim="other", claimed_at=timezone.now())
    assert letter_batches.batch_render(batch_id=batch.id) == "skipped"
    # That worker died long ago: the batch is taken over and rendered once.
    LetterBatch.objects.filter(id=batch.id).update(claimed_at=timezone.now() - timedelta(minutes=10))
    assert letter_batches.batches_requeue_stale() == 1  # eager: rendered in place
    batch.refresh_from_db()
    assert (batch.status, batch.rendered, batch.claim) == ("ready", 1, "")
    assert letter_batches.batch_render(batch_id=batch.id) == "skipped"
    assert letter_batches.batches_progress(campaign=campaign) | {"ready": 1} == {
        "finished": True,
        "percent": 100,
        "rendering": 0,
        "letters": 0,
        "rendered": 0,
        "ready": 1,
        "failed": 0,
    }


def test_it_marks_a_failed_batch_and_renders_it_again(
    marketer, approver, monkeypatch, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver, {"a@example.com": {}})
    with monkeypatch.context() as m:
        m.setattr(layout.LetterWriter, "html", lambda self, item: 1 / 0)
        [batch] = render_all(campaign, approver, django_capture_on_commit_callbacks)
    assert (batch.status, batch.error) == ("failed", "ZeroDivisionError: division by zero")
    with django_capture_on_commit_callbacks(execute=True):
        letter_batches.batch_retry(batch=batch, user=approver)
    batch.refresh_from_db()
    assert batch.status == "ready" and batch.error == ""


def test_it_moves_a_batch_from_ready_to_downloaded_to_mailed(marketer, approver, django_capture_on_commit_callbacks):
    campaign = started(marketer, approver, {"a@example.com": {}, "b@example.com": {}})
    [batch] = render_all(campaign, approver, django_capture_on_commit_callbacks)
    letter_batches.batch_downloaded(batch=batch, user=approver)
    assert batch.status == "downloaded"
    with pytest.raises(campaigns_models.CampaignError, match="future"):
        letter_batches.batch_mailed(batch=batch, on=timezone.localdate() + timedelta(days=1), user=approver)
    day = timezone.localdate() - timedelta(days=1)
    letter_batches.batch_mailed(batch=batch, on=day, user=approver)
    batch.refresh_from_db()
    assert (batch.status, batch.mailed_on) == ("mailed", day)
    deliveries = Delivery.objects.filter(channel="letter")
    assert {(d.status, d.sent_at.date()) for d in deliveries} == {("sent", day)}
    with pytest.raises(campaigns_models.CampaignError, match="mailed batch cannot be marked mailed"):
        letter_batches.batch_mailed(batch=batch, on=day, user=approver)


def test_it_marks_letters_returned_from_the_mail_houses_file(marketer, approver, django_capture_on_commit_callbacks):
    campaign = started(marketer, approver, {f"p{i}@example.com": {} for i in range(4)})
    first, second = render_all(campaign, approver, django_capture_on_commit_callbacks, size=3)
    letter_batches.batch_mailed(batch=first, on=timezone.localdate(), user=approver)
    by_sequence = {letter.sequence: letter for letter in Letter.objects.all()}
    code = by_sequence[2].short_code

    returns_csv = "\n".join(
        [
            "sequence,reason",
            "1,Moved away",
            "not a letter",
            "4,No such street",  # batch 2 was not mailed yet
            "99,",
        ]
    )
    result = returns.returns_apply(campaign=campaign, text=returns_csv, user=approver)
    assert [letter.sequence for letter in result.marked] == [1]
    assert result.unknown == ["line 3: not a letter", "line 5: 99"]
    assert result.not_mailed == ["line 4: #4 (batch 2)"]
    # Short codes, as typed by hand: lower case, no hyphen; a second file repeats one.
    result = returns.returns_apply(
        campaign=campaign,
        text=f"short_code\n{code.replace('-', '').lower()}\n{by_sequence[1].short_code}\n",
        user=approver,
    )
    assert [letter.sequence for letter in result.marked] == [2] and result.already == 1

    returned = Letter.objects.filter(returned_at__isnull=False).order_by("sequence")
    assert [(r.sequence, r.return_note) for r in returned] == [(1, "Moved away"), (2, "")]
    assert sorted(Delivery.objects.filter(status="failed").values_list("error", flat=True)) == [
        "returned to sender",
        "returned to sender: Moved away",
    ]
    assert campaign.audit.filter(action="letters returned").count() == 2


def test_it_gives_the_mail_house_presort_columns():
    assert letter_batches.presort_fields("US", "94043-1351") == ["94043", "US-940"]
    assert letter_batches.presort_fields("US", "") == ["", "US-unsorted"]
    assert letter_batches.presort_fields("GB", "SW1A 2AA") == ["", "GB-SW"]
    assert letter_batches.MANIFEST_COLUMNS[-2:] == ["zip5", "presort_key"]
