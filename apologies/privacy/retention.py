"""Retention: raw uploaded files and raw send events past their age are deleted; ledgers and import figures stay."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from incidents.models import Import, Incident, SendEvent

from .files import import_file_delete
from .models import EventTrim

log = logging.getLogger(__name__)

CHUNK = 5_000
BUSY = [Import.Status.QUEUED, Import.Status.RUNNING]


def raw_files_expire(*, now: datetime) -> int:
    """Raw uploads of finished, failed or abandoned imports older than RETENTION_RAW_LOG_DAYS, and stray files."""
    cutoff = now - timedelta(days=settings.RETENTION_RAW_LOG_DAYS)
    deleted = 0
    old = Import.objects.exclude(file="").exclude(status__in=BUSY)
    old = old.filter(Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created__lt=cutoff))
    for imp in old.only("id", "file").iterator():
        deleted += import_file_delete(imp)
    # Files under MEDIA_ROOT/imports that no import points at any more (a deleted incident, a crashed upload).
    root = Path(settings.MEDIA_ROOT) / "imports"
    if root.is_dir():
        wanted = set(Import.objects.exclude(file="").values_list("file", flat=True))
        media = Path(settings.MEDIA_ROOT)
        for path in root.rglob("*"):
            if not path.is_file() or path.relative_to(media).as_posix() in wanted:
                continue
            if datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo) < cutoff:
                path.unlink(missing_ok=True)
                deleted += 1
    return deleted


def send_events_expire(*, now: datetime) -> int:
    """Raw send events older than RETENTION_SEND_EVENT_DAYS, of incidents whose ledger already counts them."""
    cutoff = now - timedelta(days=settings.RETENTION_SEND_EVENT_DAYS)
    total = 0
    busy = Import.objects.filter(status__in=BUSY, incident__isnull=False).values("incident_id")
    incidents = Incident.objects.filter(ledger_computed_at__isnull=False).exclude(id__in=busy)
    for incident in incidents.only("id", "ledger_computed_at").iterator():
        old = SendEvent.objects.filter(incident_id=incident.id, occurred_at__lt=cutoff)
        newest = old.aggregate(newest=Max("occurred_at"))["newest"]
        if newest is None:
            continue
        # An import finished after the ledger was computed: its events may not be counted yet, so keep them.
        if Import.objects.filter(incident_id=incident.id, finished_at__gt=incident.ledger_computed_at).exists():
            continue
        deleted = 0
        while ids := list(old.values_list("id", flat=True)[:CHUNK]):
            deleted += SendEvent.objects.filter(id__in=ids).delete()[0]
        EventTrim.objects.create(incident_id=incident.id, trimmed_before=cutoff, events_deleted=deleted)
        total += deleted
    return total


def retention_run(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    result = {"raw_files": raw_files_expire(now=now), "send_events": send_events_expire(now=now)}
    log.info("retention: deleted %(raw_files)s raw files and %(send_events)s send events", result)
    return result


def send_events_trimmed(*, incident_id: int) -> bool:
    """Has retention deleted raw events of this incident? Then recomputing its ledger would lose people."""
    return EventTrim.objects.filter(incident_id=incident_id).exists()
