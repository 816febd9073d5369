"""The watch's tables: ESP switches, editable rules, received batches, raw watched events, minutes and alerts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from incidents.vocabulary import EventType


class WatchedEsp(models.Model):
    """One ESP's watch endpoint, off until someone switches it on."""

    esp = models.CharField(max_length=32, unique=True)
    enabled = models.BooleanField(default=False)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["esp"]

    def __str__(self) -> str:
        return f"{self.esp} ({'on' if self.enabled else 'off'})"


class WatchRule(models.Model):
    """A rule a marketer reads and edits; `threshold` and `minimum` mean what `kind`'s sentence says."""

    class Kind(models.TextChoices):
        PERSON_BURST = "person_burst", "One person gets too many messages from one workflow"
        VOLUME = "volume", "A workflow sends far more than its usual hourly volume"
        SUPPRESSED = "suppressed", "Messages to addresses on the suppression list"
        COMPLAINTS = "complaints", "Complaints above a share of a workflow's last hour"

    kind = models.CharField(max_length=20, choices=Kind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    # person_burst: messages; volume: times the usual hourly volume; suppressed: messages; complaints: percent.
    threshold = models.FloatField()
    # person_burst / suppressed: window in seconds; volume / complaints: the least messages in the hour to judge.
    minimum = models.IntegerField(default=0)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.sentence()

    def threshold_shown(self) -> str:
        """The threshold as the page says it: a count of messages whole ("5", "1,000"), a ratio or percent as typed."""
        return number_shown(self.threshold)

    def sentence(self) -> str:
        t = self.threshold_shown()
        if self.kind == self.Kind.PERSON_BURST:
            return f"A person receives more than {t} messages from one workflow in {self.minimum // 60} minutes."
        if self.kind == self.Kind.VOLUME:
            return (
                f"A workflow sends more than {t} times its usual hourly volume "
                f"(judged once it sends at least {self.minimum:,} messages an hour, "
                "its usual hour learnt over 6 hours)."
            )
        if self.kind == self.Kind.SUPPRESSED:
            return (
                f"More than {t} messages go to addresses on the suppression list "
                f"in {self.minimum // 60} minutes (from one workflow)."
            )
        return (
            f"Complaints exceed {t}% of a workflow's messages in the last hour "
            f"(judged once it sent at least {self.minimum:,} messages and drew 3 complaints in that hour)."
        )


# Rules whose threshold is a number of messages (the others': times the usual volume, a percent): whole numbers.
COUNT_KINDS = (WatchRule.Kind.PERSON_BURST, WatchRule.Kind.SUPPRESSED)
# The most a threshold may be, by kind: past these a rule can never fire, which is a rule switched off unsaid.
THRESHOLD_MAX = {
    WatchRule.Kind.PERSON_BURST: 10_000,  # messages to one person in at most 30 minutes
    WatchRule.Kind.VOLUME: 1_000,  # times the usual hourly volume
    WatchRule.Kind.SUPPRESSED: 1_000_000,  # messages to suppressed addresses in at most 30 minutes
    WatchRule.Kind.COMPLAINTS: 100,  # percent
}


def number_shown(value: float) -> str:
    """A number for people: whole ones with thousands separators and no ".0", others to 4 decimals at most."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


class WatchBatch(models.Model):
    """One webhook POST: its new events are counted by one worker, once."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        COUNTING = "counting", "Counting"
        DONE = "done", "Done"

    esp = models.CharField(max_length=32)
    received_at = models.DateTimeField()
    events = models.IntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state"], name="watchbatch_open", condition=~Q(state="done"))]


class WatchedEvent(models.Model):
    """One raw event the watch received, kept WATCH_KEEP_DAYS; `key` (as imports make it) applies replays once."""

    # Read back by (received_at, batch): the received_at index serves both, one index fewer on a hot insert.
    batch = models.ForeignKey(WatchBatch, models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    esp = models.CharField(max_length=32)
    key = models.UUIDField()
    recipient = models.CharField(max_length=254)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    event = models.CharField(max_length=16, choices=EventType.choices)
    message_id = models.CharField(max_length=255, blank=True)
    # The first identifier of the event: what the rules count by.
    workflow = models.CharField(max_length=255, blank=True)
    # Every identifier, "|a|b|", as SendEvent keeps them.
    workflows = models.TextField(blank=True)
    esp_event_id = models.CharField(max_length=255, blank=True)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["esp", "key"], name="watchedevent_unique_key")]
        # Retention and the incidents' live ledgers read recent rows by arrival.
        indexes = [models.Index(fields=["received_at"], name="watchedevent_received")]


class WorkflowMinute(models.Model):
    """What one workflow sent in one minute (event time), flushed from the counters for the page and baselines."""

    esp = models.CharField(max_length=32)
    workflow = models.CharField(max_length=255)
    minute = models.DateTimeField()
    messages = models.IntegerField(default=0)
    complaints = models.IntegerField(default=0)
    events = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["esp", "workflow", "minute"], name="workflowminute_unique"),
        ]
        indexes = [models.Index(fields=["minute"], name="workflowminute_minute")]


class WatchAlert(models.Model):
    """One burst of one workflow: every rule it breaks while it lasts is grouped here, and told once."""

    esp = models.CharField(max_length=32)
    workflow = models.CharField(max_length=255)
    rules = models.JSONField(default=list)
    # Event time of the first offending event (the draft incident's window opens there).
    first_offending_at = models.DateTimeField()
    # Event time of the newest offending event: where the draft's window closes when the burst is over.
    last_offending_at = models.DateTimeField(null=True, blank=True)
    # Wall-clock time of the POST that carried the event that broke the rule, and of the latest one.
    triggered_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    people = models.IntegerField(default=0)
    rate_per_minute = models.IntegerField(default=0)
    summary = models.TextField(blank=True)
    incident = models.ForeignKey("incidents.Incident", models.SET_NULL, null=True, blank=True, related_name="+")
    # Watched events received since this (wall clock, with a minute's overlap) are copied next into the incident.
    copied_since = models.DateTimeField(null=True, blank=True)
    ledger_claimed_at = models.DateTimeField(null=True, blank=True)
    notify_claimed_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notify_error = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    dismiss_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-triggered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["esp", "workflow"], condition=Q(closed_at__isnull=True), name="watchalert_one_open_burst"
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow} on {self.esp}"

    def get_absolute_url(self) -> str:
        return reverse("watch:state") + f"#alert-{self.id}"
