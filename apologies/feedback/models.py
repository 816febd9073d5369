"""Tracking events of apology deliveries and replies from the people who received them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apologies.campaigns.models import Campaign
from apologies.sending.models import Delivery
from incidents.vocabulary import EventType


class DeliveryEvent(models.Model):
    """One tracking event from the ESP's webhook; the ESP's event id makes a replay count once."""

    delivery = models.ForeignKey(Delivery, models.SET_NULL, null=True, blank=True, related_name="events")
    esp_event_id = models.CharField(max_length=255, unique=True)
    # Our reading of the payload (incidents.vocabulary.EventType), by the same rule as imports.
    event_type = models.CharField(max_length=30, choices=EventType.choices)
    # What the event says about the person: bounced (hard), complained, unsubscribed, subscribed, or "".
    person_state = models.CharField(max_length=16, blank=True)
    recipient = models.CharField(max_length=254, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    description = models.CharField(max_length=500, blank=True)
    raw = models.JSONField(default=dict)
    applied = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.recipient}"


class Reply(models.Model):
    """An answer to an apology: by email (inbound webhook), or logged by staff after a call or a letter."""

    class Kind(models.TextChoices):
        THANKS = "thanks", "Thank you"
        NEVER_AGAIN = "never_again", "Never email me again"
        COMPLAINT = "complaint", "Complaint"
        QUESTION = "question", "Question"
        AUTO_REPLY = "auto_reply", "Auto-reply / out of office"
        NEEDS_PERSON = "needs_person", "Needs a person"
        OTHER = "other", "Other"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        POST = "post", "Post"

    class Match(models.TextChoices):
        REPLY_TO = "reply_to", "Reply-To address"
        REFERENCES = "references", "In-Reply-To / References"
        SENDER = "sender", "Sender address"
        STAFF = "staff", "Staff"
        NONE = "none", "Not matched"

    campaign = models.ForeignKey(Campaign, models.CASCADE, null=True, blank=True, related_name="replies")
    delivery = models.ForeignKey(Delivery, models.SET_NULL, null=True, blank=True, related_name="replies")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    matched_by = models.CharField(max_length=12, choices=Match.choices, default=Match.NONE)
    from_email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    message_id = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.OTHER)
    # ISO 639-1 code of the person's own words, as detected ("" when unsure or logged by hand).
    language = models.CharField(max_length=8, blank=True)
    kind_set_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    # Spam, an auto-reply or mail about no apology is dismissed rather than deleted: it leaves the unmatched list
    # and the navigation's count, and whoever dismissed it by mistake can restore it.
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "replies"
        # An ESP that retries its inbound webhook must not store (nor act on) a reply twice.
        constraints = [
            models.UniqueConstraint(
                fields=["message_id"], condition=~models.Q(message_id=""), name="reply_unique_message_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.from_email or 'someone'}"


class ReplyError(Exception):
    """A refused action on a reply, with the reason for the person who asked."""
