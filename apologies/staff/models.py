"""A staff member's own settings: the time zone every staff page shows times in."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StaffPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="amends_preference")
    time_zone = models.CharField(max_length=64, default="UTC", help_text="An IANA zone, e.g. Europe/Paris.")

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone}"
