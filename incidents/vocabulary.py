"""The one event vocabulary of Amends: django-anymail's normalised event types, as model choices."""

from __future__ import annotations

from django.db import models


class EventType(models.TextChoices):
    """Values are exactly `anymail.signals.EventType`'s, so imports and tracking webhooks speak one language."""

    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    REJECTED = "rejected", "Rejected (never sent)"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    DEFERRED = "deferred", "Deferred"
    DELIVERED = "delivered", "Delivered"
    AUTORESPONDED = "autoresponded", "Auto-responded"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    COMPLAINED = "complained", "Complained"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    SUBSCRIBED = "subscribed", "Subscribed again"
    INBOUND = "inbound", "Inbound"
    INBOUND_FAILED = "inbound_failed", "Inbound failed"
    UNKNOWN = "unknown", "Unknown"


# Events that say something happened to a message that was sent (they make a message count in the ledger).
# REJECTED and FAILED say the ESP never sent it.
NEVER_SENT = (EventType.REJECTED, EventType.FAILED)
