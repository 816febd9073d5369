"""One-time form tokens: Back and submitting a create form again shows what the first submit made.

Forms that create something carry ``<input type="hidden" name="_once" value="{{ once_token }}">``. The
first POST with a token runs; when it answers with a redirect (the thing it made), the session remembers
where to. A second POST with the same token runs nothing and goes to that first result.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.functional import SimpleLazyObject

FIELD = "_once"
SESSION_KEY = "amends_once"


def once_token(request) -> dict:
    return {"once_token": SimpleLazyObject(lambda: uuid.uuid4().hex)}


class OnceMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        token = self.token(request)
        if not token:
            return self.get_response(request)
        done = request.session.get(SESSION_KEY, {})
        if token in done:
            messages.info(request, "That form was already sent: this is what it made.")
            return redirect(done[token])
        response = self.get_response(request)
        if response.status_code in (301, 302, 303) and response.get("Location"):
            done = dict(request.session.get(SESSION_KEY, {}))
            done[token] = response["Location"]
            request.session[SESSION_KEY] = dict(list(done.items())[-settings.AMENDS_ONCE_TOKENS_KEPT :])
        return response

    @staticmethod
    def token(request) -> str:
        # Staff form posts only (CSRF checking parses them anyway): never a webhook's body, which its
        # handler may need to read raw.
        if request.method != "POST" or not getattr(getattr(request, "user", None), "is_authenticated", False):
            return ""
        if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return ""
        token = request.POST.get(FIELD, "")
        return token if len(token) == 32 and token.isalnum() else ""
