"""The privacy room as its own Django app (label "privacy"), so its models need no line in apologies/models.py."""

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "apologies.privacy"
    label = "privacy"
    verbose_name = "Privacy"
    default_auto_field = "django.db.models.BigAutoField"
