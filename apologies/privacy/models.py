"""ErasedAddress (the hashed never-email-again list) and Erasure (who erased whom, when, and what it touched)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ErasedAddress(models.Model):
    """A person erased on request: only a peppered SHA-256 of their address is kept, so they are never emailed again."""

    email_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "erased addresses"

    def __str__(self) -> str:
        return self.email_hash[:12]


# What the privacy page calls each kind of row or file held about a person: the keys of the summary and of an
# erasure's counts.
HELD_LABELS = {
    "contact": "Contact",
    "suppressions": "Suppressions",
    "send_events": "Send events",
    "ledger_rows": "Ledger rows",
    "recipients": "Recipients",
    "deliveries": "Deliveries",
    "tracking_events": "Tracking events",
    "letters": "Letters",
    "replies": "Replies",
    "consents": "Consents",
    "outbox_copies": "Outbox copies",
    "letter_previews": "Letter previews",
    "letter_batch_files": "Letter batch files",
    "import_files": "Import files",
}


def held_label(kind: str) -> str:
    """A kind of row as people read it: "Send events", not "send_events"; "Elsewhere: …" for the sweep's."""
    if kind in HELD_LABELS:
        return HELD_LABELS[kind]
    if kind.startswith("elsewhere:"):
        return "Elsewhere: " + kind.split(":", 1)[1].replace("_", " ")
    return kind.replace("_", " ").capitalize()


class Erasure(models.Model):
    """The record of one erasure: never the address itself, only its hash and the counts of what was removed."""

    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    by_username = models.CharField(max_length=150, blank=True)
    email_hash = models.CharField(max_length=64, db_index=True)
    reason = models.CharField(max_length=300, blank=True)
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"erasure {self.email_hash[:12]} at {self.at:%Y-%m-%d %H:%M}"

    def counts_shown(self) -> list[tuple[str, int]]:
        """What was removed, labelled for people, the kinds with nothing left out."""
        return [(held_label(kind), n) for kind, n in self.counts.items() if n]


class EventTrim(models.Model):
    """Raw send events of an incident deleted by retention: its ledger must not be recomputed from what is left."""

    incident = models.ForeignKey("incidents.Incident", models.CASCADE, related_name="+")
    trimmed_before = models.DateTimeField()
    events_deleted = models.BigIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.events_deleted} events before {self.trimmed_before:%Y-%m-%d} of incident {self.incident_id}"
