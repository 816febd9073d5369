"""The production shape: uploads run in a real Celery worker on Redis, against PostgreSQL."""

import signal
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from config.celery import app as celery_app
from conftest import start_worker, stop_worker
from incidents.models import Import, SendEvent

from .factories import IncidentFactory, burst, write_ndjson

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(needs_postgres, needs_redis, settings):
    """A celery worker process on the test database; tasks go through Redis, not eagerly."""
    celery_app.conf.task_always_eager = False
    procs = [start_worker(settings, IMPORT_STALE_SECONDS="2")]
    try:
        yield procs
    finally:
        celery_app.conf.task_always_eager = True
        for proc in procs:
            stop_worker(proc)


def wait_for(imp: Import, timeout: float = 60) -> Import:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        imp.refresh_from_db()
        if imp.is_finished:
            return imp
        time.sleep(0.2)
    raise AssertionError(f"import {imp.id} still {imp.status} after {timeout} s")


def test_it_runs_an_uploaded_log_in_the_worker(worker, client, marketer, tmp_path):
    client.force_login(marketer)
    incident = IncidentFactory()
    events = []
    for i in range(200):
        events += burst(f"p{i}@example.com", 1 + i % 30)
    data = write_ndjson(tmp_path / "log.json.gz", events, gz=True).read_bytes()
    response = client.post(
        reverse("incidents:upload", args=[incident.id]),
        {"file": SimpleUploadedFile("log.json.gz", data), "format": "auto"},
    )
    assert response.status_code == 302
    imp = wait_for(Import.objects.get())
    assert imp.status == Import.Status.DONE, imp.message
    assert imp.imported == len(events)
    assert SendEvent.objects.count() == len(events)
    assert incident.affected.count() == 200
    progress = client.get(reverse("incidents:import_progress", args=[imp.id])).json()
    assert progress["percent"] == 100


def test_it_imports_each_event_once_when_a_task_runs_twice(worker, marketer, tmp_path):
    from incidents.tasks import run_import

    incident = IncidentFactory()
    events = burst("a@example.com", 50)
    path = write_ndjson(tmp_path / "log.json", events)
    with open(path, "rb") as f:
        imp = Import(
            kind=Import.Kind.SENDLOG, incident=incident, original_name="log.json", bytes_total=path.stat().st_size
        )
        imp.file.save("log.json", f)
    # At-least-once delivery: the same task arrives twice.
    run_import.delay(imp.id)
    run_import.delay(imp.id)
    imp = wait_for(imp)
    time.sleep(1)
    assert imp.status == Import.Status.DONE
    assert SendEvent.objects.count() == 100


def test_it_imports_each_event_once_after_the_worker_is_killed_mid_import(worker, settings, tmp_path):
    from incidents.tasks import run_import

    incident = IncidentFactory()
    events = []
    for i in range(4000):
        events += burst(f"p{i}@example.com", 25)
    path = write_ndjson(tmp_path / "big.json", events)
    with open(path, "rb") as f:
        imp = Import(
            kind=Import.Kind.SENDLOG, incident=incident, original_name="big.json", bytes_total=path.stat().st_size
        )
        imp.file.save("big.json", f)
    run_import.delay(imp.id)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        imp.refresh_from_db()
        if imp.status == Import.Status.RUNNING and imp.rows_read > 0:
            break
        time.sleep(0.05)
    assert imp.status == Import.Status.RUNNING, "the import never started"
    worker[0].send_signal(signal.SIGKILL)
    worker[0].wait()
    assert SendEvent.objects.count() == 0
    # A new worker finds the import whose heartbeat stopped and runs it again from the start.
    time.sleep(2.5)
    worker.append(start_worker(settings, IMPORT_STALE_SECONDS="2"))
    imp = wait_for(imp, timeout=120)
    assert imp.status == Import.Status.DONE, imp.message
    assert SendEvent.objects.count() == len(events)
    assert imp.imported == len(events)
