"""Incidents, their imports, normalised send events and the ledger of affected people (and, re-exported, contacts)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from incidents.auditlog.models import AuditEntry  # registers the app-wide audit log model

from .contacts.models import Contact, Suppression, SuppressionChange
from .vocabulary import EventType
from .watch.models import WatchAlert, WatchBatch, WatchedEsp, WatchedEvent, WatchRule, WorkflowMinute  # noqa: F401

__all__ = [
    "AffectedPerson",
    "AuditEntry",
    "Contact",
    "Import",
    "Incident",
    "SendEvent",
    "Suppression",
    "SuppressionChange",
    "default_tier_bounds",
    "parse_tier_bounds",
    "tier_labels",
]

DEFAULT_TIER_BOUNDS = [1, 2, 10, 50]


def default_tier_bounds() -> list[int]:
    return list(DEFAULT_TIER_BOUNDS)


class Incident(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONTAINED = "contained", "Contained"
        APOLOGISING = "apologising", "Apologising"
        CLOSED = "closed", "Closed"

    title = models.CharField(max_length=200)
    what_happened = models.TextField(blank=True)
    started_at = models.DateTimeField("window start")
    ended_at = models.DateTimeField("window end", null=True, blank=True, help_text="Leave empty while it is ongoing.")
    workflows = models.JSONField(
        default=list,
        blank=True,
        help_text="Campaign, category, tag or workflow identifiers of the faulty sends.",
    )
    root_cause = models.TextField(blank=True)
    fix = models.TextField("the fix", blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="incidents", null=True, blank=True)
    tier_bounds = models.JSONField(default=default_tier_bounds)
    # The column mapping last used for a generic CSV, offered again on the next upload.
    csv_mapping = models.JSONField(default=dict, blank=True)
    # Figures from the last ledger computation (totals, plots), kept so pages stay cheap.
    ledger_stats = models.JSONField(default=dict, blank=True)
    ledger_computed_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", args=[self.id])

    def can_edit(self, user) -> bool:
        """Its owner and the admins change an incident (its words, its send logs); everyone else reads it.

        An incident without an owner (logged before owners were kept) is open to every editor.
        """
        if not user.has_perm("incidents.change_incident"):
            return False
        return user.is_superuser or self.owner_id is None or self.owner_id == user.pk

    def tier_labels(self) -> list[str]:
        return tier_labels(self.tier_bounds)

    @staticmethod
    def window_problem(started_at, ended_at) -> str:
        """Why these times cannot be an incident's window ("" when they can: no end yet, or an instant). A time
        without an offset is read in the default time zone, as Django stores it."""

        def aware(moment):
            return timezone.make_aware(moment, timezone.get_default_timezone()) if timezone.is_naive(moment) else moment

        if started_at and ended_at and aware(ended_at) < aware(started_at):
            return "The window ends before it starts."
        return ""

    def clean(self) -> None:
        problem = self.window_problem(self.started_at, self.ended_at)
        if problem:
            raise ValidationError({"ended_at": problem})

    def tier_for(self, messages: int) -> int:
        tier = 0
        for i, low in enumerate(self.tier_bounds):
            if messages >= low:
                tier = i
        return tier


def tier_labels(bounds: list[int]) -> list[str]:
    labels = []
    for i, low in enumerate(bounds):
        if i + 1 < len(bounds):
            high = bounds[i + 1] - 1
            labels.append(str(low) if high == low else f"{low}-{high}")
        else:
            labels.append(f"{low}+")
    return labels


def parse_tier_bounds(text: str) -> list[int]:
    """'1, 2, 10, 50' -> [1, 2, 10, 50]; raises ValueError with a reason."""
    try:
        bounds = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValueError("Tier thresholds are whole numbers separated by commas, e.g. 1, 2, 10, 50.") from None
    if not bounds or bounds[0] < 1 or any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError("Tier thresholds start at 1 or more and increase, e.g. 1, 2, 10, 50.")
    return bounds


class ImportStopped(Exception):
    """The import was discarded (or finished elsewhere) while a worker was running it."""


class Import(models.Model):
    """One uploaded file and its progress: a send log, a contact list or a suppression export."""

    class Kind(models.TextChoices):
        SENDLOG = "sendlog", "Send log"
        CONTACTS = "contacts", "Contacts"
        SUPPRESSIONS = "suppressions", "Suppression list"

    class Status(models.TextChoices):
        NEEDS_MAPPING = "needs_mapping", "Needs a column mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    MAX_ERRORS = 100
    PROGRESS_EVERY_SECONDS = 1.0

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SENDLOG)
    incident = models.ForeignKey(Incident, models.CASCADE, related_name="imports", null=True, blank=True)
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    format = models.CharField(max_length=20, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    date_format = models.CharField(max_length=50, blank=True)
    # The text encoding of a CSV (detected at upload, or chosen in the preview); empty: detect when run.
    encoding = models.CharField(max_length=32, blank=True)
    # The zone naive CSV times are in (IANA name); empty means UTC.
    time_zone = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    bytes_total = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.BigIntegerField(default=0)
    imported = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Refreshed with every progress write; a RUNNING import whose heartbeat stopped lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How many times a worker started on it: a file that kills its worker is not tried forever.
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:import_detail", args=[self.id])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.bytes_total:
            return 0
        return min(99, int(100 * self.bytes_read / self.bytes_total))

    def reject(self, ref: int, reason: str) -> None:
        """Count a record that could not be read, keeping the first MAX_ERRORS reasons with their line."""
        self.rejected += 1
        if len(self.errors) < self.MAX_ERRORS:
            self.errors.append({"ref": ref, "reason": reason})

    def finish(self, status: str, message: str = "") -> None:
        self.status = status
        self.message = message
        self.finished_at = timezone.now()
        if status == self.Status.DONE:
            self.bytes_read = self.bytes_total
        self.save()

    def save_progress(self, *, bytes_read: int | None = None, force: bool = False) -> None:
        """Write rows and bytes read for the progress bar (and the heartbeat), at most about once a second."""
        now = time.monotonic()
        if not force and now - getattr(self, "_progress_at", 0.0) < self.PROGRESS_EVERY_SECONDS:
            return
        self._progress_at = now
        if bytes_read is not None:
            self.bytes_read = bytes_read
        # Conditional on RUNNING: a discarded import finds out at its next heartbeat and stops.
        if not Import.objects.filter(id=self.id, status=Import.Status.RUNNING).update(
            bytes_read=self.bytes_read,
            rows_read=self.rows_read,
            rejected=self.rejected,
            heartbeat_at=timezone.now(),
        ):
            raise ImportStopped(f"import {self.id} is no longer running")

    def progress(self) -> dict:
        return {
            "status": self.status,
            "status_label": self.get_status_display(),
            "finished": self.is_finished,
            "percent": self.percent,
            "rows_read": self.rows_read,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "message": self.message,
        }


class SendEvent(models.Model):
    """One normalised event from an ESP log. `key` makes re-imports and overlapping exports add nothing."""

    # Bulk loads pay for every index and for a deferred foreign-key check per row at COMMIT, which
    # doubled the import time. Rows come only from import merges, which take both ids from a
    # real Import, and Django's collector still cascades deletes.
    incident = models.ForeignKey(Incident, models.CASCADE, related_name="events", db_index=False, db_constraint=False)
    source = models.ForeignKey(
        Import, models.SET_NULL, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    key = models.UUIDField()
    recipient = models.CharField(max_length=254)
    recipient_raw = models.CharField(max_length=320, blank=True)
    occurred_at = models.DateTimeField()
    event = models.CharField(max_length=16, choices=EventType.choices)
    message_id = models.CharField(max_length=255, blank=True)
    # Every identifier of the event, "|a|b|", so a workflow matches with LIKE '%|a|%'.
    workflows = models.TextField(blank=True)
    esp_event_id = models.CharField(max_length=255, blank=True)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        # The only index: every ledger query reads an incident's events whole, and each extra index
        # slows bulk imports. The key comes first: within a partition incident_id is one value, and a sort
        # that starts with it cannot use PostgreSQL's abbreviated uuid keys (the index built 1.6x faster).
        constraints = [models.UniqueConstraint(fields=["key", "incident"], name="sendevent_unique_key")]


class AffectedPerson(models.Model):
    """One row of an incident's ledger, computed set-wise by ledger.ledger_compute."""

    class State(models.TextChoices):
        SUBSCRIBED = "subscribed", "Still subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        COMPLAINED = "complained", "Complained"
        BOUNCED = "bounced", "Bounced"

    incident = models.ForeignKey(Incident, models.CASCADE, related_name="affected", db_index=False)
    email = models.CharField(max_length=254)
    messages = models.IntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    max_in_10_min = models.IntegerField()
    bounced = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices)
    tier = models.SmallIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "email"], name="affected_unique_email")]
        indexes = [
            models.Index(fields=["incident", "-messages"], name="affected_messages"),
            models.Index(fields=["incident", "state"], name="affected_state"),
        ]

    def tier_label(self) -> str:
        labels = self.incident.tier_labels()
        return labels[self.tier] if self.tier < len(labels) else ""
