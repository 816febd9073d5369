"""Bad bodies sent to the ESP webhooks (anymail's views) answer 400 with the reason, never a 500 and a traceback.

An ESP retries on 5xx, so a malformed body would be retried forever; a 400 tells its sender the body
itself is wrong. Errors raised by Amends' own receivers (a database down) stay 500s: the ESP's retry is
what saves those events.
"""

from __future__ import annotations

import json
import logging
import traceback

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

log = logging.getLogger(__name__)

WEBHOOK_PREFIX = "/anymail/"
PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, LookupError)


def json_problem(body: bytes) -> str:
    """Why a body that should be JSON is not a usable JSON document ("" when it is)."""
    if not body.strip():
        return "the body is empty"
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        return f"the body is not JSON ({e})"
    if not isinstance(data, dict | list) or not data:
        return "the body is JSON but holds no event"
    return ""


def raised_by_anymail(exc: BaseException) -> bool:
    """True when anymail's parsing raised it (its own code, or json below it), not one of our receivers."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = frame.filename.replace("\\", "/")
        if "/anymail/" in path:
            return True
        if "/apologies/" in path or "/incidents/" in path:
            return False
    return False


class WebhookInputMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path.startswith(WEBHOOK_PREFIX):
            content_type = request.content_type or ""
            if not request.body.strip() or "json" in content_type or content_type == "text/plain":
                problem = json_problem(request.body)
                if problem:
                    log.warning("webhook %s refused: %s", request.path, problem)
                    return HttpResponseBadRequest(f"Bad webhook body: {problem}.", content_type="text/plain")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith(WEBHOOK_PREFIX) and isinstance(exception, PARSE_ERRORS):
            if raised_by_anymail(exception):
                log.warning("webhook %s refused: %r", request.path, exception)
                return HttpResponseBadRequest("Bad webhook body: it is not this ESP's event shape.")
        return None
