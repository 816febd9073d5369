"""Bad input named where it is, the good data beside it kept: CSV rows on the mapping page, a long NDJSON line,
contact uploads that are empty or not text, a suppressed-only Mailgun log, and the list's numbers."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from incidents import imports
from incidents.models import Contact, Import, SendEvent

from .factories import IncidentFactory

pytestmark = pytest.mark.django_db

MAILGUN_CASE = Path(__file__).parent / "cases" / "05-mailgun-suppressed.json"


def generic_csv(bad: bytes, at: int = 31) -> bytes:
    rows = [b"email,time,status\n"]
    rows += [b"u%d@example.com,2026-11-20T14:%02d:00Z,sent\n" % (i, i % 60) for i in range(1, 50)]
    rows[at - 1] = bad
    return b"".join(rows)


def upload(client, incident, name, data):
    return client.post(
        reverse("incidents:upload", args=[incident.id]), {"file": SimpleUploadedFile(name, data), "format": "auto"}
    )


def map_and_import(client, imp):
    return client.post(
        reverse("incidents:import_mapping", args=[imp.id]),
        {"recipient": "email", "time": "time", "event": "status", "delimiter": "", "date_format": ""},
    )


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (
            b'u30@example.com,"2026-11-20T14:30:00Z,sent\n',
            "a quoted field opens on line 31 and is not closed on it (an unclosed quote?): this row is not imported; "
            "lines 32 to 50, which the field ran over, were read again as rows of their own",
        ),
        (
            b"u30@example.com,2026-11-20T14:30:00Z," + b"x" * 300_000 + b"\n",
            "line 31 is longer than 100,000 bytes (the limit IMPORT_MAX_LINE_BYTES): it was skipped unread.",
        ),
    ],
    ids=["unclosed_quote", "long_line"],
)
def test_it_maps_a_csv_with_a_bad_row_and_imports_the_rest(
    marketer_client, settings, django_capture_on_commit_callbacks, bad, reason
):
    settings.IMPORT_MAX_LINE_BYTES = 100_000
    incident = IncidentFactory()
    response = upload(marketer_client, incident, "log.csv", generic_csv(bad))
    imp = Import.objects.get()
    assert imp.status == Import.Status.NEEDS_MAPPING

    html = marketer_client.get(response["Location"]).content.decode()

    assert "Rows that will not be imported" in html
    assert reason.split(":")[0] in html  # the row named on the mapping page
    assert "u1@example.com" in html  # the good rows are shown for mapping
    assert 'name="recipient"' in html
    with django_capture_on_commit_callbacks(execute=True):
        map_and_import(marketer_client, imp)
    imp.refresh_from_db()
    assert imp.status == Import.Status.DONE, imp.message
    assert imp.rejected == 1
    assert imp.errors[0]["ref"] == 31
    assert imp.errors[0]["reason"].startswith(reason)
    assert SendEvent.objects.count() == 48


def test_it_imports_the_events_beside_an_ndjson_line_past_the_limit(settings, tmp_path):
    # Mailgun's events go through the Python readers on both databases. (SendGrid's line logs, read by Polars
    # on PostgreSQL, still refuse the whole file on such a line: see incidents/sendlogs/columnar.py.)
    settings.IMPORT_MAX_LINE_BYTES = 100_000
    event = {
        "event": "delivered",
        "recipient": "a@example.com",
        "timestamp": 1795183200,
        "id": "e1",
        "message": {"headers": {"message-id": "m1@example.com"}},
    }
    big = {**event, "id": "e2", "reason": "x" * 300_000}
    last = {**event, "recipient": "c@example.com", "id": "e3"}
    path = tmp_path / "log.ndjson"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in (event, big, last)))

    imp = imports.import_local(incident=IncidentFactory(), path=str(path))

    assert imp.status == Import.Status.DONE, imp.message
    assert (imp.imported, imp.rejected) == (2, 1)
    assert imp.errors[0]["ref"] == 2
    assert imp.errors[0]["reason"].startswith("line 2 is longer than 100,000 bytes (the limit IMPORT_MAX_LINE_BYTES)")


def contact_upload(client, name, data):
    return client.post(reverse("incidents:contact_upload"), {"file": SimpleUploadedFile(name, data)}, follow=True)


def test_it_says_a_contact_upload_is_empty(marketer_client):
    html = contact_upload(marketer_client, "contacts.csv", b"").content.decode()

    assert "The submitted file is empty." in html
    assert "Choose a CSV file" not in html
    assert not Import.objects.exists()


def test_it_says_a_contact_upload_is_not_a_text_file(marketer_client):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4

    html = contact_upload(marketer_client, "photo.png", png).content.decode()

    assert "photo.png: This is not a text file (it may be a spreadsheet, an archive or an image)" in html
    assert "no email column" not in html
    assert not Import.objects.exists()


def test_it_still_imports_a_contact_list(marketer_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        contact_upload(marketer_client, "contacts.csv", b"Email,First name\nann@example.com,Ann\n")
    assert Contact.objects.get().first_name == "Ann"


def test_it_counts_the_events_of_a_suppressed_mailgun_log_and_says_nobody_received_one(marketer_client, tmp_path):
    path = tmp_path / "mailgun.json"
    shutil.copy(MAILGUN_CASE, path)
    incident = IncidentFactory(
        started_at=datetime(2026, 11, 20, 13, 0, tzinfo=UTC),
        ended_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        workflows=["trial-nurture"],
    )

    imp = imports.import_local(incident=incident, path=str(path))

    assert imp.status == Import.Status.DONE, imp.message
    assert imp.rows_read == 4  # the file's 4 events, not the 2 recipient states they also reveal
    assert imp.imported == 6
    assert "2 of the events read also say the recipient's state" in imp.message
    html = marketer_client.get(reverse("incidents:detail", args=[incident.id])).content.decode()
    assert "Nobody yet" not in html
    assert "the imported send logs hold 2 messages inside the window from trial-nurture" in html
    assert "none of them reached anyone: the ESP rejected, suppressed or never sent every one" in html


def test_it_formats_the_list_numbers_like_the_incident_page(marketer_client):
    IncidentFactory(ledger_stats={"people": 3000, "messages": 52054, "max_messages": 1200})

    html = marketer_client.get(reverse("incidents:list")).content.decode()

    assert "52,054" in html
    assert "1,200" in html
