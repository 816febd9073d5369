"""The API object: bearer-token authentication, throttles, error answers and the OpenAPI description."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.throttling import AnonRateThrottle, AuthRateThrottle

from apologies.api import campaigns, incidents
from apologies.api.access import TokenAuth

api = NinjaAPI(
    title="Amends API",
    version="1",
    description="Incidents, send-log imports, the ledger, campaign status and results. "
    "Authenticate with `Authorization: Bearer <token>` (manage.py api_token_create USERNAME NAME).",
    auth=TokenAuth(),
    throttle=[AnonRateThrottle(settings.AMENDS_API_ANON_RATE), AuthRateThrottle(settings.AMENDS_API_RATE)],
    docs_url=None,
    urls_namespace="api",
)
api.add_router("/incidents", incidents.router)
api.add_router("/", campaigns.router)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError):
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return api.create_response(request, {"detail": detail}, status=422)


@api.get("/me", tags=["tokens"])
def me(request: HttpRequest) -> dict:
    """Who this token acts as, and its role."""
    user = request.user
    return {
        "username": user.get_username(),
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "token": request.auth.name,
    }
