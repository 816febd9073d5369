from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from apologies import views as apologies_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="incidents:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("incidents/", include("incidents.urls")),
    path("campaigns/", include("apologies.urls")),
    path("u/<str:token>", apologies_views.unsubscribe, name="unsubscribe"),
    path("admin/", admin.site.urls),
]
