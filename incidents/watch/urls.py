"""URLs of the watch: its page and forms, and one endpoint per ESP (/watch/<esp>/)."""

from django.urls import path

from . import views
from .webhooks.views import VIEWS

app_name = "watch"

urlpatterns = [
    path("", views.watch_state, name="state"),
    path("rules/<slug:kind>/", views.rule_edit, name="rule_edit"),
    path("esps/", views.esp_switch, name="esp_switch"),
    path("alerts/<int:alert_id>/dismiss/", views.alert_dismiss, name="alert_dismiss"),
    *[path(f"{esp}/", view, name=f"endpoint_{esp}") for esp, view in VIEWS.items()],
]
