"""django-anymail's webhook signals: the ESP's tracking events and inbound replies."""

from anymail.signals import inbound, tracking
from django.dispatch import receiver

from . import services


@receiver(tracking, dispatch_uid="amends_tracking")
def on_tracking(sender, event, esp_name: str, **kwargs) -> None:
    services.tracking_receive(event=event, esp_name=esp_name)


@receiver(inbound, dispatch_uid="amends_inbound")
def on_inbound(sender, event, esp_name: str, **kwargs) -> None:
    services.reply_receive(message=event.message)
