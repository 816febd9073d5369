"""Public URLs of the way back: the sorry page, a person's page, confirmation, one-click unsubscribe, the icon."""

import re

from django.conf import settings
from django.urls import path, re_path

from . import views

SORRY = settings.AMENDS_SORRY_PATH.strip("/")
# Case-blind without (?i), which Django's reverse() cannot read: sorry -> [sS][oO][rR][rR][yY].
ANY_CASE = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in SORRY)

# Outside the staff namespace: these names are in every printed letter and sent email.
urlpatterns = [
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path(f"{SORRY}/", views.sorry_code, name="sorry"),
    path(f"{SORRY}/confirm/<str:token>", views.sorry_confirm, name="sorry_confirm"),
    path(f"{SORRY}/<str:token>/done", views.sorry_done, name="sorry_done"),
    path(f"{SORRY}/<str:token>/resend", views.sorry_resend, name="sorry_resend"),
    path(f"{SORRY}/<str:token>", views.sorry_person, name="sorry_person"),
    # However the printed address is typed: /SORRY, /Sorry/, /sorry (no slash), /Sorry/7AYA-B96Q.
    re_path(rf"^{ANY_CASE}(?:/(?P<rest>.*))?$", views.sorry_easy, name="sorry_easy"),
    path("brand/<str:color>.css", views.brand_css, name="brand_css"),
    path("favicon.ico", views.favicon, name="favicon"),
]
