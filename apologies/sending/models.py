"""Deliveries (one apology to one person on one channel, unique per campaign and incident) and the captured outbox."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apologies.campaigns.models import Campaign, Recipient
from incidents.models import Incident


class Delivery(models.Model):
    """One apology to one person by one channel: the unit that must happen exactly once."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped: suppressed at send time"
        REVIEW = "review", "Needs review"
        CANCELLED = "cancelled", "Cancelled"
        HELD = "held", "Waiting for its wave or its hour"

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(Recipient, models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(Incident, models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)
    channel = models.CharField(max_length=10, choices=Recipient.Channel.choices)
    follow_up = models.BooleanField(default=False)
    # Careful sending: 1 for the pilot, 2… for later waves, 0 without waves (sending.waves).
    wave = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    esp_message_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # What the ESP's tracking webhooks told us afterwards.
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "recipient", "channel"], name="delivery_once_per_channel"),
            # One apology per person per incident, unless a campaign explicitly allows a follow-up.
            models.UniqueConstraint(
                fields=["incident", "email"], condition=Q(follow_up=False), name="delivery_once_per_incident"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "channel", "status"], name="delivery_status")]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.email} ({self.channel}, {self.status})"


class CapturedEmail(models.Model):
    """Email kept instead of sent, on the embedded default: the outbox a newcomer can read."""

    to = models.TextField()
    from_email = models.CharField(max_length=300)
    subject = models.CharField(max_length=500)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.subject
