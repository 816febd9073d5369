"""Staff URLs of sending: start, pause, resume, progress, review and the outbox."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:campaign_id>/progress/", views.campaign_progress, name="progress"),
    path("<int:campaign_id>/start/", views.campaign_start, name="start"),
    path("<int:campaign_id>/pause/", views.campaign_pause, name="pause"),
    path("<int:campaign_id>/resume/", views.campaign_resume, name="resume"),
    path("people/<int:recipient_id>/test/", views.recipient_test_send, name="test_send"),
    path("deliveries/<int:delivery_id>/resolve/", views.delivery_resolve, name="resolve"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:email_id>/", views.outbox_email, name="outbox_email"),
]
