"""Receivers of django-anymail's tracking and inbound signals: they hand each event to the feedback services."""

from __future__ import annotations

from anymail.signals import inbound, tracking
from django.dispatch import receiver

from apologies.feedback import services as feedback


@receiver(tracking, dispatch_uid="amends_tracking")
def on_tracking(sender, event, esp_name: str, **kwargs) -> None:
    feedback.tracking_receive(event=event, esp_name=esp_name)


@receiver(inbound, dispatch_uid="amends_inbound")
def on_inbound(sender, event, esp_name: str, **kwargs) -> None:
    feedback.reply_receive(message=event.message)
