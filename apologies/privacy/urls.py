"""URLs of the privacy page, mounted at /privacy/."""

from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("", views.privacy_person, name="person"),
    path("export/", views.privacy_export, name="export"),
    path("erase/", views.privacy_erase, name="erase"),
]
