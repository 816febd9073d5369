"""The providers' tracking webhooks: signed POSTs only, each event stored and applied once."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apologies.letters.providers.base import SignatureError
from apologies.letters.providers.registry import PROVIDERS
from apologies.letters.providers.services import provider_event_receive


@csrf_exempt
@require_POST
def tracking_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    if provider not in PROVIDERS:
        return HttpResponse(status=404)
    try:
        provider_event_receive(provider=provider, body=request.body, headers=request.headers)
    except SignatureError:
        return HttpResponse("bad signature", status=403, content_type="text/plain")
    except ValueError:
        return HttpResponse("not JSON", status=400, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")
