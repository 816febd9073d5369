"""Models of letters sent through a provider: one per delivery (the provider's idempotency key) and its events."""

from __future__ import annotations

from django.db import models

from apologies.campaigns.models import Campaign
from apologies.sending.models import Delivery


class ProviderLetter(models.Model):
    """One letter handed to a print-and-mail provider, and what its tracking said since."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Being handed over"
        UNDELIVERABLE = "undeliverable", "Address not deliverable (verification)"
        CREATED = "created", "Accepted by the provider"
        MAILED = "mailed", "Mailed"
        IN_TRANSIT = "in_transit", "In transit"
        DELIVERED = "delivered", "Delivered"
        RETURNED = "returned", "Returned to sender"
        FAILED = "failed", "Failed"

    delivery = models.OneToOneField(Delivery, models.CASCADE, related_name="provider_letter")
    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="provider_letters")
    provider = models.CharField(max_length=20)
    # Sent with every request for this letter: the provider never makes a second one for it.
    idempotency_key = models.CharField(max_length=64, unique=True)
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    verification = models.CharField(max_length=40, blank=True, help_text="The provider's deliverability verdict.")
    expected_delivery = models.DateField(null=True, blank=True)
    mailed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["campaign", "status"], name="providerletter_status")]

    def __str__(self) -> str:
        return f"{self.provider} letter for delivery {self.delivery_id} ({self.status})"


class ProviderEvent(models.Model):
    """One tracking event from a provider's webhook; its id makes a replay count once."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=100)
    letter = models.ForeignKey(ProviderLetter, models.SET_NULL, null=True, blank=True, related_name="events")
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=14)
    occurred_at = models.DateTimeField()
    raw = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="provider_event_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.name}"
