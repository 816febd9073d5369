"""The public side: the page people reach from a letter, a QR code or an email. No login, no cookies needed.

GET never changes anything (mail scanners open links); every POST is tied to a signed token or a code,
so they carry no CSRF token: only the person holding the letter or the email can make the choice.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from apologies import links
from apologies.campaigns import words
from apologies.campaigns.models import Recipient
from apologies.wayback import services as wayback
from apologies.wayback.models import Consent


def brand() -> dict:
    logo = settings.AMENDS_BRAND_LOGO
    if logo and not logo.startswith(("/", "https://")):
        logo = static(logo)
    return {"brand_name": settings.AMENDS_BRAND_NAME, "brand_logo": logo, "brand_color": settings.AMENDS_BRAND_COLOR}


def _page(request: HttpRequest, template: str, ctx: dict | None = None, status: int = 200) -> HttpResponse:
    response = render(request, f"apologies/public/{template}", {**brand(), **(ctx or {})}, status=status)
    # Personal pages: never cached by a proxy, never indexed.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


@csrf_exempt
def sorry_code(request: HttpRequest) -> HttpResponse:
    """The easy URL from the letter: type the code, land on your own page."""
    if request.method != "POST":
        return _page(request, "code.html")
    ip = _ip(request)
    if wayback.code_tries_left(ip) <= 0:
        return _page(request, "too_many.html", status=429)
    typed = request.POST.get("code", "")
    recipient = wayback.code_recipient(typed)
    if recipient is None:
        wayback.code_try_failed(ip)
        return _page(
            request,
            "code.html",
            {"typed": typed, "wrong": True, "tries_left": wayback.code_tries_left(ip)},
            status=404 if typed.strip() else 400,
        )
    return redirect(reverse("sorry_person", args=[links.sorry_token(recipient)]) + "?via=code", permanent=False)


def _via(request: HttpRequest, recipient: Recipient) -> str:
    if request.GET.get("via") == "code" or request.POST.get("via") == "code":
        return Consent.Via.LETTER_CODE
    return Consent.Via.LETTER_LINK if recipient.channel == Recipient.Channel.LETTER else Consent.Via.EMAIL_LINK


@csrf_exempt
def sorry_person(request: HttpRequest, token: str) -> HttpResponse:
    recipient_id = links.sorry_recipient_id(token)
    if recipient_id is None:
        return _page(request, "invalid.html", status=400)
    if request.method == "POST":
        return _sorry_choose(request, token)
    # The page everyone from a mailing opens: one query, and the cache until the person chooses.
    via = "code" if request.GET.get("via") == "code" else ""
    key = wayback.sorry_page_key(recipient_id, via)
    cached = cache.get(key)
    if cached is not None:
        return _cached_response(cached)
    data = wayback.sorry_page_data(recipient_id)
    if data is None:
        return _page(request, "invalid.html", status=400)
    masked = words.mask_email(data["email"])
    ctx = {
        "first_name": data["contact__first_name"] or "",
        "messages": data["messages"],
        "max_in_10_min": data["max_in_10_min"],
        "started_at": data["campaign__incident__started_at"],
        "what_happened": data["campaign__incident__what_happened"],
        "fix": data["campaign__incident__fix"],
        "earlier": Consent.Choice(data["earlier_choice"]).label if data["earlier_choice"] else "",
        "earlier_at": data["earlier_at"],
        "masked": masked,
        "choices": [(value, wayback.consent_text(value, masked)) for value in Consent.Choice.values],
        "via": via,
    }
    response = _page(request, "person.html", ctx)
    cache.set(key, response.content, timeout=wayback.SORRY_PAGE_SECONDS)
    return response


def _sorry_choose(request: HttpRequest, token: str) -> HttpResponse:
    recipient = wayback.sorry_recipient(token)
    if recipient is None:
        return _page(request, "invalid.html", status=400)
    choice = request.POST.get("choice", "")
    if choice not in Consent.Choice.values:
        return redirect(request.path)
    consent = wayback.consent_record(
        recipient=recipient,
        choice=choice,
        via=_via(request, recipient),
        ip=_ip(request) or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    return _page(request, "done.html", {"consent": consent, "masked": words.mask_email(recipient.email)})


def _cached_response(content: bytes) -> HttpResponse:
    response = HttpResponse(content)
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@csrf_exempt
def sorry_confirm(request: HttpRequest, token: str) -> HttpResponse:
    consent = wayback.consent_for_confirm_token(token)
    if consent is None:
        return _page(request, "invalid.html", status=400)
    masked = words.mask_email(consent.email)
    if request.method == "POST":
        wayback.consent_confirm(consent=consent)
        consent.refresh_from_db()
        return _page(request, "done.html", {"consent": consent, "masked": masked, "confirmed": True})
    return _page(request, "confirm.html", {"consent": consent, "masked": masked})


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what a click would do; POST (the one-click header's, no cookies) unsubscribes at once."""
    delivery = wayback.delivery_for_unsubscribe_token(token)
    if delivery is None:
        return render(request, "apologies/public/unsubscribe_invalid.html", status=400)
    masked = words.mask_email(delivery.email)
    if request.method == "POST":
        wayback.unsubscribe(delivery=delivery, source="one-click" if "List-Unsubscribe" in request.POST else "link")
        return render(request, "apologies/public/unsubscribed.html", {"masked": masked})
    return render(request, "apologies/public/unsubscribe.html", {"masked": masked, "token": token})
