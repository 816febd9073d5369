from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from apologies.api import urls as api_urls
from apologies.letters.providers import urls as provider_urls
from apologies.wayback import urls as wayback_urls
from config.health import HealthzView, WebHealthzView

# Visitors without a login see the public error pages, in their own language (apologies.wayback).
handler404 = "apologies.wayback.views.page_not_found"
handler500 = "apologies.wayback.views.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="incidents:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/2fa/", include("config.twofactor.urls")),
    path("incidents/", include("incidents.urls")),
    path("campaigns/", include("apologies.urls")),
    path("audit/", include("incidents.auditlog.urls")),
    path("privacy/", include("apologies.privacy.urls")),
    *wayback_urls.urlpatterns,
    path("anymail/", include("anymail.urls")),
    path("watch/", include("incidents.watch.urls")),
    *api_urls.urlpatterns,
    *provider_urls.urlpatterns,
    path("admin/", admin.site.urls),
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("healthz/web", WebHealthzView.as_view(), name="healthz_web"),
]

if settings.AMENDS_BENCH_VIEWS:
    # Only for bench/landing.py: the ceiling a landing page is measured against.
    from django.shortcuts import render

    urlpatterns.append(path("bench/bare/", lambda request: render(request, "bench/bare.html"), name="bench_bare"))
