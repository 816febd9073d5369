"""Every call under /api/ goes into the API's audit trail, whatever its answer (denied, throttled, failed)."""

from __future__ import annotations

from django.http import HttpRequest

from apologies.api.models import ApiToken
from apologies.api.tokens import api_call_record

API_PREFIX = "/api/"


class ApiAuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX):
            token = getattr(request, "auth", None)
            token = token if isinstance(token, ApiToken) else None
            api_call_record(
                user=token.user if token else None,
                token=token,
                method=request.method or "",
                path=request.get_full_path(),
                status=response.status_code,
                ip=request.META.get("REMOTE_ADDR"),
                detail="" if response.status_code < 400 else response.content[:300].decode("utf-8", "replace"),
            )
        return response
