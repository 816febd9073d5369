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


def test_it_previews_the_encoding_the_status_words_and_the_converted_times(marketer_client):
    incident = IncidentFactory(workflows=["Relance été"])
    data = (
        "Adresse;Envoyé le;Campagne;Statut\n"
        "léa@example.fr;20/11/2026 13:05;Relance été;soft-bounced\n"
        "hugo@example.fr;20/11/2026 13:06;Relance été;spamreport\n"
        "zoé@example.fr;20/11/2026 13:07;Relance été;frobbed\n"
    ).encode("cp1252")
    upload(marketer_client, incident, "excel.csv", data)
    imp = Import.objects.get()

    page = marketer_client.get(reverse("incidents:import_detail", args=[imp.id])).content.decode()
    assert "Windows-1252" in page
    assert "Relance été" in page
    assert "soft-bounced" in page and "Deferred" in page
    assert "Complained" in page
    assert "not understood" in page

    response = marketer_client.post(
        reverse("incidents:import_mapping", args=[imp.id]),
        {
            "recipient": "Adresse",
            "time": "Envoyé le",
            "event": "Statut",
            "date_format": "%d/%m/%Y %H:%M",
            "time_zone": "Europe/Paris",
            "encoding": "cp1252",
            "preview": "1",
        },
    )
    assert response.status_code == 200
    assert "2026-11-20 12:05:00 UTC" in response.content.decode()
    imp.refresh_from_db()
    assert imp.status == Import.Status.NEEDS_MAPPING


def test_it_says_which_line_does_not_fit_a_chosen_encoding(marketer_client):
    incident = IncidentFactory()
    data = "Who,At\nann@example.com,2026-11-20T14:05:00Z\nléa@example.com,2026-11-20T14:05:00Z\n".encode("cp1252")
    upload(marketer_client, incident, "excel.csv", data)
    imp = Import.objects.get()

    response = marketer_client.post(
        reverse("incidents:import_mapping", args=[imp.id]), {"encoding": "utf-8", "preview": "1"}
    )

    assert "Line 3 cannot be read as UTF-8" in response.content.decode()


def test_it_imports_with_the_chosen_time_zone_and_encoding(marketer_client, django_capture_on_commit_callbacks):
    incident = IncidentFactory(workflows=[])
    data = "Who;At;Flow\nléa@example.com;20/11/2026 15:05;Relance été\n".encode("cp1252")
    upload(marketer_client, incident, "excel.csv", data)
    imp = Import.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            reverse("incidents:import_mapping", args=[imp.id]),
            {
                "recipient": "Who",
                "time": "At",
                "workflow": "Flow",
                "date_format": "%d/%m/%Y %H:%M",
                "time_zone": "Europe/Paris",
                "encoding": "cp1252",
                "rows": "messages",
            },
        )
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == Import.Status.DONE, imp.message
    event = SendEvent.objects.get()
    assert (event.recipient, event.workflows, event.occurred_at.hour) == ("léa@example.com", "|Relance été|", 14)
