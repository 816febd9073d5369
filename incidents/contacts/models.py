"""The people we may contact: contacts with their postal address, and the suppression list with its history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Contact(models.Model):
    email = models.CharField(max_length=254, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code, e.g. US, GB, DE.")
    language = models.CharField(max_length=10, blank=True)
    # IANA zone (e.g. America/Chicago) for sending in the person's morning; empty: the country's main zone.
    time_zone = models.CharField(max_length=64, blank=True)
    address_valid = models.BooleanField(default=False)
    address_problems = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def one_line_address(self) -> str:
        parts = [
            self.address_line1,
            self.address_line2,
            self.city,
            " ".join(p for p in (self.region, self.postal_code) if p),
        ]
        return ", ".join(p for p in parts if p)


class Suppression(models.Model):
    """An address that must never be emailed, for each reason it was added."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        COMPLAINED = "complained", "Complained"
        HARD_BOUNCE = "hard_bounce", "Hard bounce"
        NEVER_AGAIN = "never_again", "Asked never to be emailed again"
        MANUAL = "manual", "Added by hand"

    email = models.CharField(max_length=254)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    source = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["email", "reason"], name="suppression_unique_reason")]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_reason_display()})"


class SuppressionChange(models.Model):
    """Who or what added or lifted a suppression, and why: written with every change by contacts.suppressions."""

    class Action(models.TextChoices):
        ADDED = "added", "Added"
        LIFTED = "lifted", "Lifted"

    email = models.CharField(max_length=254)
    reason = models.CharField(max_length=20, choices=Suppression.Reason.choices)
    action = models.CharField(max_length=10, choices=Action.choices)
    source = models.CharField(max_length=200, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["email"], name="suppressionchange_email")]

    def __str__(self) -> str:
        return f"{self.email} {self.action} ({self.reason})"
