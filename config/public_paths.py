"""The public pages (the landing page, its POSTs, one-click unsubscribe) served past the staff-only middleware.

Those views use no session, no login, no messages and no CSRF token (each is csrf_exempt: the signed token in
the URL is the proof), so for their paths the rest of the chain is skipped: bench/landing.py measured it as
most of the Django overhead of a cached page. Security and WhiteNoise still run (they come before this one);
what the skipped middleware would have added to such a response, the X-Frame-Options header, is added here.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve


class PublicPathMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.prefixes = tuple(settings.AMENDS_PUBLIC_PATH_PREFIXES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(self.prefixes):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if not getattr(match.func, "csrf_exempt", False):
            # Only views that need nothing from the skipped middleware take the short way.
            return self.get_response(request)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if response.get("X-Frame-Options") is None and not getattr(response, "xframe_options_exempt", False):
            response["X-Frame-Options"] = getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()
        return response
