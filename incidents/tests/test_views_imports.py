"""Tests of the import pages: upload, mapping and progress."""

import gzip

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from incidents.models import Import, SendEvent

from .factories import IncidentFactory, burst, write_ndjson

pytestmark = pytest.mark.django_db


def upload(client, incident, name, data, fmt="auto"):
    return client.post(
        reverse("incidents:upload", args=[incident.id]),
        {"file": SimpleUploadedFile(name, data), "format": fmt},
    )


def test_it_uploads_a_log_and_runs_it_in_the_worker(marketer_client, tmp_path, django_capture_on_commit_callbacks):
    incident = IncidentFactory()
    data = write_ndjson(tmp_path / "l.json", burst("a@example.com", 3)).read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(marketer_client, incident, "events.json.gz", gzip.compress(data))
    imp = Import.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:import_detail", args=[imp.id])
    progress = marketer_client.get(reverse("incidents:import_progress", args=[imp.id])).json()
    assert progress["status"] == "done"
    assert progress["percent"] == 100
    assert progress["imported"] == 6
    page = marketer_client.get(response["Location"]).content.decode()
    assert "See who was hit" in page


def test_it_shows_rejected_records_with_their_line(marketer_client, tmp_path, django_capture_on_commit_callbacks):
    incident = IncidentFactory()
    data = write_ndjson(tmp_path / "l.json", burst("a@example.com", 1)).read_bytes() + b'{"event": "open"}\n'
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(marketer_client, incident, "events.json", data)
    page = marketer_client.get(response["Location"]).content.decode()
    assert "Rejected records" in page
    imp = Import.objects.get()
    assert imp.errors[0]["ref"] == 3


def test_it_refuses_a_file_that_is_no_send_log_at_once(marketer_client):
    incident = IncidentFactory()
    response = upload(marketer_client, incident, "photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert response.status_code == 400
    assert not Import.objects.exists()
    assert "error" in response.content.decode()


def test_it_asks_for_a_column_mapping_with_a_preview(marketer_client, django_capture_on_commit_callbacks):
    incident = IncidentFactory(workflows=["promo"])
    data = b"Who,At,Flow\nann@example.com,2026-11-20T14:05:00Z,promo\nbob@example.com,2026-11-20T14:06:00Z,promo\n"
    response = upload(marketer_client, incident, "custom.csv", data)
    imp = Import.objects.get()
    assert imp.status == Import.Status.NEEDS_MAPPING
    page = marketer_client.get(response["Location"])
    html = page.content.decode()
    assert "Map the columns" in html
    assert "ann@example.com" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            reverse("incidents:import_mapping", args=[imp.id]),
            {
                "recipient": "Who",
                "time": "At",
                "workflow": "Flow",
                "delimiter": "",
                "date_format": "",
                "remember": "on",
            },
        )
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == Import.Status.DONE, imp.message
    assert SendEvent.objects.count() == 2
    incident.refresh_from_db()
    assert incident.csv_mapping["mapping"]["recipient"] == "Who"
    # The next CSV for this incident starts from the saved mapping.
    upload(marketer_client, incident, "next.csv", data)
    assert Import.objects.order_by("-id").first().mapping["time"] == "At"


def test_it_requires_the_mapped_columns(marketer_client):
    incident = IncidentFactory()
    upload(marketer_client, incident, "custom.csv", b"Who,At\nann@example.com,2026-11-20T14:05:00Z\n")
    imp = Import.objects.get()
    response = marketer_client.post(reverse("incidents:import_mapping", args=[imp.id]), {"recipient": "Who"})
    assert response.status_code == 400
    imp.refresh_from_db()
    assert imp.status == Import.Status.NEEDS_MAPPING


def test_it_never_changes_anything_on_get(marketer_client):
    incident = IncidentFactory()
    upload(marketer_client, incident, "custom.csv", b"Who,At\nann@example.com,2026-11-20T14:05:00Z\n")
    imp = Import.objects.get()
    assert marketer_client.get(reverse("incidents:import_mapping", args=[imp.id])).status_code == 405
    assert marketer_client.get(reverse("incidents:upload", args=[incident.id])).status_code == 405
