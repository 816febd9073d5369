"""Imports that cannot be trusted halfway: all or nothing, discarded on request, not retried forever."""

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from incidents import imports, tasks
from incidents.models import Contact, Import, ImportStopped
from incidents.tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def contacts_import(body: bytes, encoding: str = "") -> Import:
    imp = Import.objects.create(
        kind=Import.Kind.CONTACTS, original_name="contacts.csv", status=Import.Status.QUEUED, encoding=encoding
    )
    imp.file.save("contacts.csv", ContentFile(body))
    return imp


def test_it_keeps_nothing_of_a_contacts_file_that_fails_after_2000_good_rows():
    good = b"".join(b"c%d@example.com,Jane,US\n" % i for i in range(2000))
    body = b"email,first_name,country\n" + good + b"bad@example.com,J\xff\xfe\xfdr\xf4me,FR\n"
    imp = contacts_import(body, encoding="utf-8")  # chosen as UTF-8: the last line cannot be read
    imports.import_run(import_id=imp.id)
    imp.refresh_from_db()
    assert imp.status == "failed" and "Nothing from this file was kept" in imp.message
    assert Contact.objects.count() == 0  # as the message says


def test_it_discards_a_stuck_import_from_its_page_and_a_running_worker_stops(marketer_client, marketer):
    incident = IncidentFactory(owner=marketer)
    imp = Import.objects.create(incident=incident, kind=Import.Kind.SENDLOG, original_name="log.json")
    Import.objects.filter(id=imp.id).update(status=Import.Status.RUNNING, heartbeat_at=timezone.now())
    page = marketer_client.get(reverse("incidents:import_detail", args=[imp.id])).content.decode()
    assert "Stop and discard this import" in page

    response = marketer_client.post(reverse("incidents:import_discard", args=[imp.id]))
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == "failed" and imp.message.startswith("Discarded by maya")
    with pytest.raises(ImportStopped):
        imp.save_progress(force=True)  # what the worker still running it hits at its next step


def test_it_gives_up_on_a_file_that_killed_its_worker_three_times(settings):
    settings.IMPORT_MAX_ATTEMPTS = 3
    imp = Import.objects.create(incident=IncidentFactory(), kind=Import.Kind.SENDLOG, original_name="bomb.json.gz")
    stale = timezone.now() - timedelta(hours=1)
    Import.objects.filter(id=imp.id).update(status=Import.Status.RUNNING, heartbeat_at=stale, attempts=2)
    imports.import_requeue_stale(older_than_seconds=60)
    imp.refresh_from_db()
    assert imp.status == "queued"  # two deaths: one more try

    Import.objects.filter(id=imp.id).update(status=Import.Status.RUNNING, heartbeat_at=stale, attempts=3)
    imports.import_requeue_stale(older_than_seconds=60)
    imp.refresh_from_db()
    assert imp.status == "failed" and "stopped 3 times" in imp.message


def test_it_reads_country_names_as_codes_and_flags_the_unknown_ones():
    body = (
        b"email,first_name,country,address_line1,city,postal_code\n"
        b"de@example.com,Jan,Germany,Invalidenstrasse 1,Berlin,10115\n"
        b"uk@example.com,Ann,United Kingdom,10 Downing St,London,SW1A 2AA\n"
        b"x@example.com,Bo,Atlantis,1 Main St,Poseidonia,12345\n"
    )
    imports.import_run(import_id=contacts_import(body).id)
    got = {c.email: (c.country, c.address_valid) for c in Contact.objects.all()}
    assert got["de@example.com"] == ("DE", True) and got["uk@example.com"] == ("GB", True)
    assert got["x@example.com"] == ("", False)  # never "AT" (Austria) from "Atlantis"
    assert "country 'Atlantis' is not one we know" in Contact.objects.get(email="x@example.com").address_problems


def test_it_fails_an_import_that_runs_past_its_time_limit_with_the_reason(settings, monkeypatch):
    assert tasks.run_import.soft_time_limit == settings.IMPORT_TIME_LIMIT_SECONDS
    assert tasks.run_import.time_limit == settings.IMPORT_TIME_LIMIT_SECONDS + 60
    assert tasks.requeue_stale_imports.time_limit
    imp = contacts_import(b"email,first_name\nana@example.com,Ana\n")

    def endless(**kwargs):
        raise SoftTimeLimitExceeded()  # what Celery raises in the task when the soft limit passes

    monkeypatch.setattr(imports, "contacts_import_run", endless)
    tasks.run_import(imp.id)
    imp.refresh_from_db()
    assert imp.status == "failed"
    assert imp.message == "The import took longer than 120 minutes; nothing from it was kept."
    assert Contact.objects.count() == 0
