"""The API's URLs, mounted under /api/ (its OpenAPI description at /api/openapi.json)."""

from django.urls import path

from apologies.api.main import api

urlpatterns = [path("api/", api.urls)]
