"""URLs of the two-factor pages, mounted at /account/2fa/."""

from django.urls import path

from . import views

app_name = "twofactor"

urlpatterns = [
    path("", views.twofactor_setup, name="setup"),
    path("verify/", views.twofactor_verify, name="verify"),
    path("remove/", views.twofactor_remove, name="remove"),
]
