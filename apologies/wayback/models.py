"""Consent: what a person chose on the way back, with when, where from and the exact words shown."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apologies.campaigns.models import Campaign, Recipient


class Consent(models.Model):
    """What a person chose on the public page, with the evidence a regulator would ask for."""

    class Choice(models.TextChoices):
        RESUBSCRIBE = "resubscribe", "Subscribed again"
        STAY = "stay_unsubscribed", "Stayed unsubscribed"
        NEVER = "never_again", "Never contact me again"

    class Via(models.TextChoices):
        EMAIL_LINK = "email_link", "Link in an email"
        LETTER_LINK = "letter_link", "Link or QR code in a letter"
        LETTER_CODE = "letter_code", "Code typed from a letter"

    recipient = models.ForeignKey(Recipient, models.CASCADE, related_name="consents")
    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="consents")
    email = models.CharField(max_length=254)
    choice = models.CharField(max_length=20, choices=Choice.choices)
    via = models.CharField(max_length=12, choices=Via.choices)
    channel = models.CharField(max_length=10, choices=Recipient.Channel.choices)
    text_shown = models.TextField()
    # The language of the page, and so of text_shown, as the person read it.
    language = models.CharField(max_length=10, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    # Double opt-in: a re-signup from a typed code counts once the confirmation email is clicked.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # A double POST, or a second click, records one choice of each kind per person and campaign.
            models.UniqueConstraint(fields=["recipient", "choice"], name="consent_once_per_choice"),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.get_choice_display()}"

    @property
    def counts(self) -> bool:
        return self.choice != self.Choice.RESUBSCRIBE or self.confirmation_sent_at is None or bool(self.confirmed_at)
