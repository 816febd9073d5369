"""The control group's model: people kept out of an apology at random, chosen when the campaign was approved."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apologies.campaigns.models import Campaign, Recipient


class ControlMember(models.Model):
    """One person who receives no apology from this campaign, so that results can compare like with like."""

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="control_members")
    recipient = models.OneToOneField(Recipient, models.CASCADE, related_name="control")
    email = models.CharField(max_length=254)
    chosen_at = models.DateTimeField(default=timezone.now)
    chosen_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(fields=["campaign", "email"], name="control_once_per_campaign")]

    def __str__(self) -> str:
        return f"{self.email} (control of {self.campaign_id})"
