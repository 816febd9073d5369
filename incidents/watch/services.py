"""The watch's services: receiving ESP events, counting them once, switches and rules, minutes, retention."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from incidents.sendlogs import Event, nul_field, records_from_esp_event
from incidents.sendlogs.records import address

from . import services_alerts, tasks, windows
from .models import (
    COUNT_KINDS,
    THRESHOLD_MAX,
    WatchBatch,
    WatchedEsp,
    WatchedEvent,
    WatchRule,
    WorkflowMinute,
    number_shown,
)
from .rules import BASELINE_MIN_HOURS, DEFAULTS, Row, rules_current, rules_judge

log = logging.getLogger(__name__)

# The ESPs the watch has an endpoint for: URL slug -> anymail's esp_name.
ESPS = {
    "amazon_ses": "Amazon SES",
    "brevo": "Brevo",
    "mailersend": "MailerSend",
    "mailgun": "Mailgun",
    "mailjet": "Mailjet",
    "mandrill": "Mandrill",
    "postal": "Postal",
    "postmark": "Postmark",
    "resend": "Resend",
    "sendgrid": "SendGrid",
    "sparkpost": "SparkPost",
}
ROW_FIELDS = ("id", "recipient", "occurred_at", "event", "message_id", "workflow", "key")
SWITCH_CACHE_SECONDS = 5.0
_switches: dict[str, tuple[float, bool]] = {}


# Switches


def esp_watching(*, esp: str) -> bool:
    """Whether the ESP's watch endpoint is on (read at most every few seconds per process)."""
    now = timezone.now().timestamp()
    cached = _switches.get(esp)
    if cached and now - cached[0] < SWITCH_CACHE_SECONDS:
        return cached[1]
    on = WatchedEsp.objects.filter(esp=esp, enabled=True).exists()
    _switches[esp] = (now, on)
    return on


def esp_switch(*, esp: str, enabled: bool, user=None) -> WatchedEsp:
    if esp not in ESPS:
        raise ValueError(f"The watch has no endpoint for {esp!r}.")
    switch, _ = WatchedEsp.objects.update_or_create(esp=esp, defaults={"enabled": enabled, "changed_by": user})
    _switches.pop(esp, None)
    return switch


# Rules


def rule_update(*, kind: str, enabled: bool, threshold: float, minimum: int, user=None) -> WatchRule:
    """Save one rule as the marketer set it (the only way a rule changes: nothing tunes them silently)."""
    if kind not in DEFAULTS:
        raise ValueError(f"No rule {kind!r}.")
    if threshold < 0 or minimum < 0:
        raise ValueError("Thresholds are zero or more.")
    if threshold > THRESHOLD_MAX[kind]:
        raise ValueError(
            f"Threshold must be at most {number_shown(THRESHOLD_MAX[kind])}, not {number_shown(threshold)}."
        )
    if kind in COUNT_KINDS and not float(threshold).is_integer():
        raise ValueError(f"Threshold (messages) must be a whole number, not {number_shown(threshold)}.")
    rule, _ = WatchRule.objects.update_or_create(
        kind=kind, defaults={"enabled": enabled, "threshold": threshold, "minimum": minimum, "changed_by": user}
    )
    return rule


# Receiving


def event_key(record: Event) -> str:
    """The key imports give the same event (incidents.imports), so an import of the ESP's log adds nothing."""
    if record.esp_event_id:
        raw = "id\x1f" + record.esp_event_id
    else:
        raw = (
            f"ev\x1f{record.message_id}\x1f{record.event}\x1f{record.recipient}\x1f{record.occurred_at.timestamp():.6f}"
        )
    return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


def records_read(*, esp_name: str, event) -> list[Event]:
    """One anymail tracking event read as an import of the same ESP reads it (anymail's reading otherwise)."""
    try:
        return [r for r in records_from_esp_event(esp_name, event.esp_event) if r.__class__ is Event]
    except Exception:  # noqa: BLE001 - a payload the ESP module cannot place keeps anymail's reading
        pass
    recipient = address(getattr(event, "recipient", None) or "")
    if not recipient:
        return []
    workflows = tuple(str(t) for t in (event.tags or []))
    when = event.timestamp or timezone.now()
    return [
        Event(
            recipient,
            event.recipient or "",
            when,
            event.event_type,
            event.message_id or "",
            workflows,
            event.event_id or "",
            (event.description or "")[:200],
            0,
        )
    ]


def watch_receive(*, esp: str, events) -> WatchBatch:
    """Keep a POST's events (each once: ESPs retry) and queue their counting. Called by the watch endpoints."""
    now = timezone.now()
    esp_name = ESPS[esp]
    rows = []
    for event in events:
        for record in records_read(esp_name=esp_name, event=event):
            nul = nul_field(record)
            if nul:
                # No text column can keep it, and one such event must not fail the POST (the ESP would resend
                # every event in it, again and again).
                log.warning("watch %s: event %r skipped, a NUL character in its %s", esp, record.esp_event_id, nul)
                continue
            workflows = record.workflows
            rows.append(
                (
                    event_key(record),
                    record.recipient[:254],
                    record.occurred_at,
                    record.event,
                    record.message_id[:255],
                    workflows[0][:255] if workflows else "",
                    "|" + "|".join(w.replace("|", "/") for w in workflows) + "|" if workflows else "",
                    record.esp_event_id[:255],
                    record.detail[:255],
                )
            )
    with transaction.atomic():
        batch = WatchBatch.objects.create(esp=esp, received_at=now, events=len(rows))
        events_insert(batch=batch, rows=rows)
        transaction.on_commit(lambda: tasks.count_batch.delay(batch.id))
    return batch


INSERT_COLUMNS = (
    "key",
    "recipient",
    "occurred_at",
    "event",
    "message_id",
    "workflow",
    "workflows",
    "esp_event_id",
    "detail",
)
# PostgreSQL: one statement per POST, its rows as one JSON text (Django's bulk_create spent 3/4 of the request,
# quoting arrays client-side half of the rest).
PG_INSERT = """
    INSERT INTO incidents_watchedevent
        (batch_id, esp, received_at, key, recipient, occurred_at, event, message_id, workflow, workflows,
         esp_event_id, detail)
    SELECT %s, %s, %s, (u->>0)::uuid, u->>1, (u->>2)::timestamptz, u->>3, u->>4, u->>5, u->>6, u->>7, u->>8
    FROM jsonb_array_elements(%s::jsonb) AS u
    ON CONFLICT (esp, key) DO NOTHING
"""


def events_insert(*, batch: WatchBatch, rows: list[tuple]) -> None:
    """Insert a batch's events; one already kept (a replay) is skipped and keeps its first batch."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(PG_INSERT, [batch.id, batch.esp, batch.received_at, orjson.dumps(rows).decode()])
        return
    WatchedEvent.objects.bulk_create(
        [
            WatchedEvent(
                batch_id=batch.id,
                esp=batch.esp,
                received_at=batch.received_at,
                **dict(zip(INSERT_COLUMNS, row, strict=True)),
            )
            for row in rows
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )


# Counting


def batch_count(*, batch_id: int) -> bool:
    """Count one batch's new events into the windows and raise what they break; once, whoever runs it."""
    claimed = WatchBatch.objects.filter(id=batch_id, state=WatchBatch.State.QUEUED).update(
        state=WatchBatch.State.COUNTING, claimed_at=timezone.now()
    )
    if not claimed:
        return False
    batch = WatchBatch.objects.get(id=batch_id)
    rows = [
        Row(*values)
        for values in WatchedEvent.objects.filter(received_at=batch.received_at, batch_id=batch_id).values_list(
            *ROW_FIELDS
        )
    ]
    for row in rows:
        row.key = str(row.key)
    if rows:
        firings, _ = rules_judge(esp=batch.esp, rows=rows, rules=rules_current())
        for firing in firings.values():
            services_alerts.alert_raise(esp=batch.esp, firing=firing, seen_at=batch.received_at)
    WatchBatch.objects.filter(id=batch_id).update(state=WatchBatch.State.DONE, done_at=timezone.now())
    return True


def batches_requeue(*, queued_seconds: int = 30, counting_seconds: int = 120) -> int:
    """Batches whose task was lost (queued too long) or whose worker died (counting too long) go again.

    Counting again is safe: a message is in its person's window once, whoever adds it.
    """
    now = timezone.now()
    WatchBatch.objects.filter(
        state=WatchBatch.State.COUNTING, claimed_at__lt=now - timedelta(seconds=counting_seconds)
    ).update(state=WatchBatch.State.QUEUED, claimed_at=now)
    waited = now - timedelta(seconds=queued_seconds)
    stale = list(
        WatchBatch.objects.filter(state=WatchBatch.State.QUEUED)
        .filter(Q(claimed_at__isnull=True, received_at__lt=waited) | Q(claimed_at__lt=waited))
        .values_list("id", flat=True)[:1000]
    )
    for batch_id in stale:
        transaction.on_commit(lambda batch_id=batch_id: tasks.count_batch.delay(batch_id))
    return len(stale)


# Minutes and baselines


def minutes_flush(*, limit: int = 20000) -> int:
    """Write the minutes counted since the last flush to the database, and learn each workflow's usual hour."""
    taken = windows.dirty_minutes_take(limit=limit)
    if not taken:
        return 0
    rows = [
        WorkflowMinute(
            esp=esp,
            workflow=workflow[:255],
            minute=datetime.fromtimestamp(minute * 60, tz=UTC),
            messages=int(values.get("m", 0)),
            complaints=int(values.get("c", 0)),
            events=int(values.get("e", 0)),
        )
        for esp, workflow, minute, values in taken
        if values
    ]
    WorkflowMinute.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["esp", "workflow", "minute"],
        update_fields=["messages", "complaints", "events"],
        batch_size=2000,
    )
    touched: dict[str, set[str]] = {}
    for esp, workflow, _, _ in taken:
        touched.setdefault(esp, set()).add(workflow)
    for esp, workflows in touched.items():
        baselines_learn(esp=esp, workflows=workflows)
    return len(rows)


def baselines_learn(*, esp: str, workflows: set[str]) -> dict[str, tuple[float, int]]:
    """A workflow's usual hourly volume: the mean of its hours with sending in the day before its last hour."""
    latest = WorkflowMinute.objects.filter(esp=esp).order_by("-minute").values_list("minute", flat=True).first()
    if latest is None:
        return {}
    hours = (
        WorkflowMinute.objects.filter(
            esp=esp,
            workflow__in=workflows,
            minute__gte=latest - timedelta(hours=25),
            minute__lt=latest - timedelta(hours=1),
        )
        .annotate(hour=TruncHour("minute"))
        .values("workflow", "hour")
        .annotate(n=Sum("messages"))
        .order_by()
    )
    sums: dict[str, list[int]] = {}
    for row in hours:
        if row["n"]:
            sums.setdefault(row["workflow"], []).append(row["n"])
    learnt = {w: (sum(ns) / len(ns), len(ns)) for w, ns in sums.items() if len(ns) >= 1}
    windows.baselines_set(esp=esp, values=learnt)
    return {w: v for w, v in learnt.items() if v[1] >= BASELINE_MIN_HOURS}


# Retention


def events_expire(*, days: int | None = None, chunk: int = 20000) -> int:
    """Delete raw watched events (and their batches and minutes) older than WATCH_KEEP_DAYS.

    Incidents keep their own copies in their send events: their ledgers stay whole.
    """
    days = settings.WATCH_KEEP_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            WatchedEvent.objects.filter(received_at__lt=cutoff).order_by("id").values_list("id", flat=True)[:chunk]
        )
        if not ids:
            break
        deleted += WatchedEvent.objects.filter(id__in=ids).delete()[0]
    WatchBatch.objects.filter(received_at__lt=cutoff, state=WatchBatch.State.DONE).delete()
    WorkflowMinute.objects.filter(minute__lt=cutoff).delete()
    return deleted
