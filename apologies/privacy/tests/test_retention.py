"""Retention: old raw uploads (failed ones too, and strays) and old raw send events go; ledgers and figures stay."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from apologies.privacy import tasks
from apologies.privacy.models import EventTrim
from apologies.privacy.retention import retention_run, send_events_trimmed
from config.celery import app
from incidents import imports, ledger
from incidents.models import AffectedPerson, Import, SendEvent
from incidents.tests.factories import IncidentFactory, burst, write_ndjson

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def stored_import(name: str, *, status: str, age_days: int, incident=None) -> Import:
    imp = Import.objects.create(kind=Import.Kind.CONTACTS, original_name=name, status=status, incident=incident)
    imp.file.save(name, ContentFile(b"Email\nzoe@example.com\n"), save=False)
    finished = NOW - timedelta(days=age_days) if status in ("done", "failed") else None
    Import.objects.filter(pk=imp.pk).update(file=imp.file.name, finished_at=finished)
    Import.objects.filter(pk=imp.pk).update(created=NOW - timedelta(days=age_days))
    imp.refresh_from_db()
    return imp


def test_it_deletes_old_raw_uploads_done_failed_and_stray(settings):
    settings.RETENTION_RAW_LOG_DAYS = 90
    old_done = stored_import("old-done.csv", status="done", age_days=100)
    old_failed = stored_import("old-failed.csv", status="failed", age_days=91)
    abandoned = stored_import("abandoned.csv", status="needs_mapping", age_days=120)
    recent = stored_import("recent.csv", status="done", age_days=10)
    running = stored_import("running.csv", status="running", age_days=100)
    stray_dir = Path(settings.MEDIA_ROOT) / "imports" / "2025" / "01"
    stray_dir.mkdir(parents=True, exist_ok=True)
    old_stray, new_stray = stray_dir / "orphan.ndjson", stray_dir / "fresh.ndjson"
    old_stray.write_text("{}")
    new_stray.write_text("{}")
    stamp = (NOW - timedelta(days=200)).timestamp()
    os.utime(old_stray, (stamp, stamp))
    paths = {imp.pk: Path(imp.file.path) for imp in (old_done, old_failed, abandoned, recent, running)}

    result = retention_run(now=NOW)

    assert result["raw_files"] == 4
    for imp in (old_done, old_failed, abandoned):
        imp.refresh_from_db()
        assert not imp.file and not paths[imp.pk].exists()
    for imp in (recent, running):
        assert paths[imp.pk].exists()
    assert not old_stray.exists() and new_stray.exists()
    assert retention_run(now=NOW)["raw_files"] == 0  # idempotent


def ledger_with_events(tmp_path, *, days_ago: int):
    incident = IncidentFactory(started_at=NOW - timedelta(days=days_ago), ended_at=NOW - timedelta(days=days_ago - 1))
    start = NOW - timedelta(days=days_ago)
    events = burst("zoe@example.com", 3, start=start) + burst("sam@example.com", 2, start=start)
    imports.import_local(incident=incident, path=str(write_ndjson(tmp_path / f"{days_ago}.ndjson", events)))
    ledger.ledger_compute(incident=incident)
    return incident


def test_it_deletes_old_send_events_and_keeps_the_ledger(tmp_path, settings):
    settings.RETENTION_SEND_EVENT_DAYS = 90
    old = ledger_with_events(tmp_path, days_ago=120)
    recent = ledger_with_events(tmp_path, days_ago=30)
    ledger = sorted(AffectedPerson.objects.filter(incident=old).values_list("email", "messages", "state"))
    stats = old.ledger_stats
    assert SendEvent.objects.filter(incident=old).count() == 10

    result = retention_run(now=NOW)

    assert result["send_events"] == 10
    assert not SendEvent.objects.filter(incident=old).exists()
    assert SendEvent.objects.filter(incident=recent).count() == 10
    assert sorted(AffectedPerson.objects.filter(incident=old).values_list("email", "messages", "state")) == ledger
    old.refresh_from_db()
    assert old.ledger_stats == stats
    assert send_events_trimmed(incident_id=old.id) and not send_events_trimmed(incident_id=recent.id)
    assert EventTrim.objects.get().events_deleted == 10


def test_it_keeps_events_a_ledger_has_not_counted_yet(tmp_path, settings):
    settings.RETENTION_SEND_EVENT_DAYS = 90
    incident = ledger_with_events(tmp_path, days_ago=120)
    Import.objects.filter(incident=incident).update(finished_at=incident.ledger_computed_at + timedelta(seconds=5))
    assert retention_run(now=NOW)["send_events"] == 0
    assert SendEvent.objects.filter(incident=incident).count() == 10


def test_it_runs_daily_on_the_beat_schedule():
    entry = app.conf.beat_schedule["privacy-retention"]
    assert entry["task"] == tasks.retention.name and entry["schedule"] <= 86400
    assert tasks.retention.time_limit


def test_it_has_safe_defaults():
    assert settings.RETENTION_RAW_LOG_DAYS >= 30 and settings.RETENTION_SEND_EVENT_DAYS >= 30
