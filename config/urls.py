from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from apologies import views as apologies_views
from apologies import views_public
from apologies.branding import brand_stylesheet
from config.health import HealthzView, WebHealthzView

SORRY = settings.AMENDS_SORRY_PATH.strip("/")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="incidents:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/2fa/", include("config.twofactor.urls")),
    path("incidents/", include("incidents.urls")),
    path("campaigns/", include("apologies.urls")),
    path("audit/", include("incidents.auditlog.urls")),
    path("privacy/", include("apologies.privacy.urls")),
    path("u/<str:token>", apologies_views.unsubscribe, name="unsubscribe"),
    path("brand.css", brand_stylesheet, name="brand_css"),
    path(f"{SORRY}/", views_public.sorry_code, name="sorry"),
    path(f"{SORRY}/confirm/<str:token>", views_public.sorry_confirm, name="sorry_confirm"),
    path(f"{SORRY}/<str:token>", views_public.sorry_person, name="sorry_person"),
    path("anymail/", include("anymail.urls")),
    path("admin/", admin.site.urls),
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("healthz/web", WebHealthzView.as_view(), name="healthz_web"),
]

if settings.AMENDS_BENCH_VIEWS:
    # Only for bench/landing.py: the ceiling a landing page is measured against.
    from django.shortcuts import render

    urlpatterns.append(path("bench/bare/", lambda request: render(request, "bench/bare.html"), name="bench_bare"))
