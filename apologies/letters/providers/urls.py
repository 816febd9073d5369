"""URLs of the print-and-mail providers: their tracking webhooks, e.g. /providers/lob/tracking/."""

from django.urls import path

from apologies.letters.providers import views

urlpatterns = [path("providers/<slug:provider>/tracking/", views.tracking_webhook, name="provider_tracking")]
