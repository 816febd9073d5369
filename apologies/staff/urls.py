"""Staff URLs of one's own settings."""

from django.urls import path

from . import views

urlpatterns = [path("me/time-zone/", views.time_zone, name="time_zone")]
