from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from apologies.api import urls as api_urls
from apologies.letters.providers import urls as provider_urls
from apologies.wayback import urls as wayback_urls

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="incidents:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("incidents/", include("incidents.urls")),
    path("campaigns/", include("apologies.urls")),
    *wayback_urls.urlpatterns,
    path("anymail/", include("anymail.urls")),
    *api_urls.urlpatterns,
    *provider_urls.urlpatterns,
    path("admin/", admin.site.urls),
]

if settings.AMENDS_BENCH_VIEWS:
    # Only for bench/landing.py: the ceiling a landing page is measured against.
    from django.shortcuts import render

    urlpatterns.append(path("bench/bare/", lambda request: render(request, "bench/bare.html"), name="bench_bare"))
