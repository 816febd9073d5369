"""The watch's alerts: one per burst of a workflow, told once by email and chat webhook, with a live draft incident."""

from __future__ import annotations

import logging
from datetime import timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from incidents.ledger import ledger_compute
from incidents.models import Incident
from incidents.services import incident_create

from . import tasks, windows
from .models import WatchAlert, WatchRule
from .rules import NO_WORKFLOW, Firing, as_datetime

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120
# Watched events are copied into an incident with this overlap, so a row committed late is not missed.
COPY_OVERLAP = timedelta(seconds=60)
# How far back (wall clock) the first copy into a new draft incident looks.
FIRST_COPY_LOOKBACK = timedelta(hours=2)
RULE_NAMES = dict(WatchRule.Kind.choices)


def alert_raise(*, esp: str, firing: Firing, seen_at) -> WatchAlert:
    """Group a firing into its workflow's open burst, or open one: a draft incident and a notification, once."""
    first = as_datetime(firing.first_offending_at)
    last = as_datetime(max(firing.last_offending_at, firing.first_offending_at))
    for _ in range(3):
        with transaction.atomic():
            alert = (
                WatchAlert.objects.select_for_update()
                .filter(esp=esp, workflow=firing.workflow, closed_at__isnull=True)
                .first()
            )
            if alert is not None:
                alert.rules = sorted(set(alert.rules) | firing.rules)
                alert.last_seen_at = max(alert.last_seen_at, seen_at)
                alert.last_offending_at = max(alert.last_offending_at or last, last)
                alert.people = max(alert.people, firing.people)
                alert.rate_per_minute = max(alert.rate_per_minute, firing.rate_per_minute)
                if first < alert.first_offending_at:
                    alert.first_offending_at = first
                    if alert.incident_id:
                        Incident.objects.filter(id=alert.incident_id, started_at__gt=first).update(started_at=first)
                alert.save()
                return alert
            try:
                with transaction.atomic():
                    alert = WatchAlert.objects.create(
                        esp=esp,
                        workflow=firing.workflow,
                        rules=sorted(firing.rules),
                        first_offending_at=first,
                        last_offending_at=last,
                        triggered_at=seen_at,
                        last_seen_at=seen_at,
                        people=firing.people,
                        rate_per_minute=firing.rate_per_minute,
                        summary="; ".join(firing.facts),
                        copied_since=seen_at - FIRST_COPY_LOOKBACK,
                    )
            except IntegrityError:
                continue  # another worker opened this burst a moment ago: group into it
            alert.incident = incident_create(
                title=f"Draft from the watch: {firing.workflow[:150]} ({esp})",
                started_at=first,
                workflows=[] if firing.workflow == NO_WORKFLOW else [firing.workflow],
                what_happened=(
                    "Opened by the watch: " + "; ".join(firing.facts) + ". "
                    "A draft: check it, then fill in what happened, or dismiss it on the watch page."
                ),
            )
            alert.save(update_fields=["incident"])
            alert_id = alert.id
            transaction.on_commit(lambda alert_id=alert_id: tasks.notify_alert.delay(alert_id))
            transaction.on_commit(lambda alert_id=alert_id: tasks.refresh_alert_ledger.delay(alert_id))
            return alert
    raise RuntimeError(f"could not open or join the burst of {firing.workflow}")


def alert_text(*, alert: WatchAlert) -> str:
    """What the email and the chat message say: workflow, rules, people so far, rate, link."""
    link = settings.SITE_URL.rstrip("/") + (
        alert.incident.get_absolute_url() if alert.incident_id else alert.get_absolute_url()
    )
    rules = ", ".join(RULE_NAMES.get(r, r).lower() for r in alert.rules)
    return (
        f"Amends watch: workflow '{alert.workflow}' on {alert.esp} looks like an incident ({rules}). "
        f"{alert.summary}. People so far: {alert.people:,}. Rate: {alert.rate_per_minute:,} messages a minute. "
        f"First offending event: {alert.first_offending_at:%Y-%m-%d %H:%M:%S} UTC. Draft incident: {link}"
    )


def alert_notify(*, alert_id: int) -> bool:
    """Send the alert's email and chat webhook, each once; a failure is retried by the recovery job."""
    now = timezone.now()
    claimed = (
        WatchAlert.objects.filter(id=alert_id, notified_at__isnull=True)
        .filter(Q(notify_claimed_at__isnull=True) | Q(notify_claimed_at__lt=now - timedelta(seconds=CLAIM_SECONDS)))
        .update(notify_claimed_at=now)
    )
    if not claimed:
        return False
    alert = WatchAlert.objects.select_related("incident").get(id=alert_id)
    text = alert_text(alert=alert)
    errors = []
    if alert.emailed_at is None:
        if settings.WATCH_ALERT_EMAILS:
            try:
                send_mail(
                    f"[Amends watch] {alert.workflow}: possible incident",
                    text,
                    settings.DEFAULT_FROM_EMAIL,
                    settings.WATCH_ALERT_EMAILS,
                )
            except Exception as e:  # noqa: BLE001 - retried by the recovery job, said on the page
                errors.append(f"email: {e}")
        if not errors:
            WatchAlert.objects.filter(id=alert_id).update(emailed_at=timezone.now())
    if alert.posted_at is None:
        if settings.WATCH_ALERT_WEBHOOK_URL:
            try:
                response = requests.post(settings.WATCH_ALERT_WEBHOOK_URL, json={"text": text}, timeout=10)
                response.raise_for_status()
            except requests.RequestException as e:
                errors.append(f"webhook: {e}")
        if not any(e.startswith("webhook") for e in errors):
            WatchAlert.objects.filter(id=alert_id).update(posted_at=timezone.now())
    if errors:
        log.warning("watch alert %s not fully sent: %s", alert_id, "; ".join(errors))
        WatchAlert.objects.filter(id=alert_id).update(notify_error="; ".join(errors)[:2000])
        return False
    WatchAlert.objects.filter(id=alert_id).update(notified_at=timezone.now(), notify_error="")
    return True


COPY_SQL = """
    INSERT INTO incidents_sendevent
        (incident_id, source_id, key, recipient, recipient_raw, occurred_at, event, message_id, workflows,
         esp_event_id, detail)
    SELECT %s, NULL, key, recipient, '', occurred_at, event, message_id, workflows, esp_event_id, detail
    FROM incidents_watchedevent
    WHERE received_at >= %s AND esp = %s AND workflow = %s AND occurred_at >= %s
    ON CONFLICT DO NOTHING
"""


def alert_ledger_refresh(*, alert_id: int) -> int:
    """Copy the burst's newly watched events into its incident's send events and recompute its ledger."""
    now = timezone.now()
    claimed = (
        WatchAlert.objects.filter(id=alert_id, incident__isnull=False)
        .filter(Q(ledger_claimed_at__isnull=True) | Q(ledger_claimed_at__lt=now - timedelta(seconds=CLAIM_SECONDS)))
        .update(ledger_claimed_at=now)
    )
    if not claimed:
        return 0
    alert = WatchAlert.objects.select_related("incident").get(id=alert_id)
    try:
        incident = alert.incident
        since = (alert.copied_since or alert.triggered_at - FIRST_COPY_LOOKBACK) - COPY_OVERLAP
        ops = connection.ops
        with connection.cursor() as cursor:
            cursor.execute(
                COPY_SQL,
                [
                    incident.id,
                    ops.adapt_datetimefield_value(since),
                    alert.esp,
                    "" if alert.workflow == NO_WORKFLOW else alert.workflow,
                    ops.adapt_datetimefield_value(incident.started_at),
                ],
            )
            copied = cursor.rowcount
        if copied or incident.ledger_computed_at is None:
            ledger_compute(incident=incident)
        WatchAlert.objects.filter(id=alert_id).update(copied_since=now)
        return copied
    finally:
        WatchAlert.objects.filter(id=alert_id).update(ledger_claimed_at=None)


def ledgers_refresh() -> int:
    """Every live burst's incident gets the events watched since its last refresh (a periodic job)."""
    recent = timezone.now() - timedelta(minutes=10)
    ids = WatchAlert.objects.filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=recent), incident__isnull=False, dismissed_at__isnull=True
    )
    return sum(alert_ledger_refresh(alert_id=alert_id) for alert_id in ids.values_list("id", flat=True))


def bursts_close() -> int:
    """A burst quiet for WATCH_BURST_QUIET_MINUTES is over: its draft's window closes at its last offending event,
    and its next offence is a new alert."""
    quiet = timezone.now() - timedelta(minutes=settings.WATCH_BURST_QUIET_MINUTES)
    closing = list(WatchAlert.objects.filter(closed_at__isnull=True, last_seen_at__lt=quiet))
    for alert in closing:
        if alert.incident_id and alert.last_offending_at and not alert.dismissed_at:
            # The draft's window closes at the burst's last offending event (still editable by hand).
            Incident.objects.filter(id=alert.incident_id, ended_at__isnull=True).update(
                ended_at=alert.last_offending_at
            )
            Incident.objects.filter(id=alert.incident_id).update(ledger_computed_at=None)
        alert_ledger_refresh(alert_id=alert.id)
        WatchAlert.objects.filter(id=alert.id, closed_at__isnull=True).update(closed_at=timezone.now())
        windows.people_forget(esp=alert.esp, workflow=alert.workflow)
    return len(closing)


def alerts_recover() -> int:
    """Alerts whose notification was lost or failed go again (each channel once)."""
    stale = timezone.now() - timedelta(seconds=CLAIM_SECONDS)
    ids = list(
        WatchAlert.objects.filter(notified_at__isnull=True)
        .filter(Q(notify_claimed_at__isnull=True, triggered_at__lt=stale) | Q(notify_claimed_at__lt=stale))
        .values_list("id", flat=True)[:100]
    )
    for alert_id in ids:
        transaction.on_commit(lambda alert_id=alert_id: tasks.notify_alert.delay(alert_id))
    return len(ids)


def alert_dismiss(*, alert_id: int, user, note: str = "") -> WatchAlert:
    """ "This is not an incident": the draft is closed and the dismissal recorded. No rule changes: the page
    says so, and offers the rules to edit by hand. The burst stays grouped here until it goes quiet."""
    with transaction.atomic():
        alert = WatchAlert.objects.select_for_update().get(id=alert_id)
        if alert.dismissed_at is None:
            alert.dismissed_at = timezone.now()
            alert.dismissed_by = user
            alert.dismiss_note = note[:2000]
            alert.save(update_fields=["dismissed_at", "dismissed_by", "dismiss_note"])
            if alert.incident_id:
                incident = Incident.objects.get(id=alert.incident_id)
                incident.status = Incident.Status.CLOSED
                who = getattr(user, "username", "someone")
                incident.what_happened = (
                    f"{incident.what_happened}\n\nDismissed on the watch page by {who}: not an incident. {note}"
                ).strip()
                incident.save(update_fields=["status", "what_happened", "updated"])
    return alert
