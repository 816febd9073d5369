"""Public URLs of the way back: the sorry page, a person's page, confirmation and one-click unsubscribe."""

from django.conf import settings
from django.urls import path

from . import views

SORRY = settings.AMENDS_SORRY_PATH.strip("/")

# Outside the staff namespace: these names are in every printed letter and sent email.
urlpatterns = [
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path(f"{SORRY}/", views.sorry_code, name="sorry"),
    path(f"{SORRY}/confirm/<str:token>", views.sorry_confirm, name="sorry_confirm"),
    path(f"{SORRY}/<str:token>", views.sorry_person, name="sorry_person"),
]
