"""The public side: the page people reach from a letter, a QR code or an email. No login, no cookies needed.

GET never changes anything (mail scanners open links); every POST is tied to a signed token or a code,
so they carry no CSRF token: only the person holding the letter or the email can make the choice.
Every POST answers with a redirect to a page that shows the state truthfully, so a reload never posts again.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apologies import links
from apologies.campaigns import words
from apologies.campaigns.brand import Brand, brand_for, valid_color
from apologies.wayback import services as wayback
from apologies.wayback.models import Consent
from config.clientip import client_ip


def _page(
    request: HttpRequest, template: str, ctx: dict | None = None, status: int = 200, brand: Brand | None = None
) -> HttpResponse:
    """Every public page: one base, the brand of the campaign (or the site's) filled in."""
    response = render(
        request, f"apologies/public/{template}", {**(brand or brand_for()).page_context(), **(ctx or {})}, status=status
    )
    # Personal pages: never cached by a proxy, never indexed.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _see(url: str) -> HttpResponse:
    """303: after a POST, the browser GETs the page that shows what happened."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


@require_GET
@cache_control(public=True, max_age=86400)
def brand_css(request: HttpRequest, color: str) -> HttpResponse:
    """The brand colour as a stylesheet, so the public pages carry no inline style."""
    if not valid_color(color):
        color = brand_for().color
    brand = Brand("", "", "#" + color.lstrip("#"), "", "", "")
    css = f":root {{ --accent: {brand.color}; --on-accent: {brand.on_color}; }}\n"
    return HttpResponse(css, content_type="text/css; charset=utf-8")


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest) -> HttpResponse:
    with open(settings.BASE_DIR / "static" / "favicon.ico", "rb") as icon:
        return HttpResponse(icon.read(), content_type="image/x-icon")


@require_GET
def sorry_easy(request: HttpRequest, rest: str = "") -> HttpResponse:
    """/SORRY, /Sorry/, /sorry, /Sorry/<code>: however the letter's address was typed, the same page."""
    rest = (rest or "").strip("/")
    target = settings.AMENDS_SORRY_PATH + rest
    if target == request.path:  # already lower case, and no page of ours: say so, never loop
        return _page(request, "invalid.html", status=400)
    response = HttpResponseRedirect(target)
    response.status_code = 301 if not rest else 302
    return response


@csrf_exempt
def sorry_code(request: HttpRequest) -> HttpResponse:
    """The easy URL from the letter: type the code, land on your own page."""
    ip = client_ip(request)
    if request.method == "POST":
        return _code_typed(request, request.POST.get("code", ""), ip)
    if wayback.code_tries_left(ip) <= 0:
        return _page(request, "too_many.html", status=429)
    wrong = request.GET.get("wrong") == "1"
    typed = request.GET.get("code", "")[:40] if wrong else ""
    ctx = {"typed": typed, "wrong": wrong, "tries_left": wayback.code_tries_left(ip) if wrong else None}
    return _page(request, "code.html", ctx)


def _code_typed(request: HttpRequest, typed: str, ip: str) -> HttpResponse:
    # The try is taken before the lookup, atomically: 200 guesses at once get at most AMENDS_CODE_TRIES answers.
    if not wayback.code_try_take(ip):
        return _page(request, "too_many.html", status=429)
    recipient = wayback.code_recipient(typed)
    if recipient is None:
        if request.method == "GET":  # a code typed into the address: show the form with it, no redirect loop
            ctx = {"typed": typed[:40], "wrong": True, "tries_left": wayback.code_tries_left(ip)}
            return _page(request, "code.html", ctx, status=404)
        return _see(reverse("sorry") + "?" + urlencode({"wrong": "1", "code": typed[:40]}))
    wayback.code_try_give_back(ip)
    # How the person arrived (a typed code) is signed into the token of their page, never a form field.
    return _see(reverse("sorry_person", args=[links.sorry_token(recipient, via=links.VIA_CODE)]))


@csrf_exempt
def sorry_person(request: HttpRequest, token: str) -> HttpResponse:
    read = links.sorry_token_read(token)
    if read is None:
        if wayback.code_candidates(token):
            # A code typed into the path (example.com/sorry/7AYA-B96Q): that person's page, same try limit.
            ip = client_ip(request)
            return _code_typed(request, token, ip) if request.method == "GET" else _see(reverse("sorry"))
        return _page(request, "invalid.html", status=400)
    recipient_id, arrived = read
    if request.method == "POST":
        return _sorry_choose(request, token, recipient_id, arrived)
    # The page everyone from a mailing opens: one query, and the cache until the person chooses.
    key = wayback.sorry_page_key(recipient_id, arrived)
    cached = cache.get(key)
    if cached is not None:
        return _cached_response(cached)
    data = wayback.sorry_page_data(recipient_id)
    if data is None:
        return _page(request, "invalid.html", status=400)
    brand = wayback.brand_of_row(data)
    masked = words.mask_email(data["email"])
    pending = data["earlier_choice"] == Consent.Choice.RESUBSCRIBE and bool(
        data["earlier_sent"] and not data["earlier_confirmed"]
    )
    ctx = {
        "token": token,
        "first_name": data["contact__first_name"] or "",
        "messages_phrase": words.count_phrase(data["messages"]),
        "max_in_10_min": data["max_in_10_min"],
        "max_phrase": words.count_phrase(data["max_in_10_min"]),
        "started_at": data["campaign__incident__started_at"],
        "what_happened": data["campaign__incident__what_happened"],
        "fix": data["campaign__incident__fix"],
        "earlier": "" if pending else (Consent.Choice(data["earlier_choice"]).label if data["earlier_choice"] else ""),
        "earlier_at": data["earlier_at"],
        "pending": pending,
        "masked": masked,
        "choices": [(value, wayback.consent_text(value, masked, brand.name)) for value in Consent.Choice.values],
    }
    response = _page(request, "person.html", ctx, brand=brand)
    cache.set(key, response.content, timeout=wayback.SORRY_PAGE_SECONDS)
    return response


def _sorry_choose(request: HttpRequest, token: str, recipient_id: int, arrived: str) -> HttpResponse:
    recipient = wayback.sorry_recipient(token)
    if recipient is None:
        return _page(request, "invalid.html", status=400)
    choice = request.POST.get("choice", "")
    if choice not in Consent.Choice.values:
        return _see(request.path)
    wayback.consent_record(
        recipient=recipient,
        choice=choice,
        arrived=arrived,  # from the signed token; any "via" the form may send is ignored
        ip=client_ip(request) or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    return _see(reverse("sorry_done", args=[token]))


@require_GET
def sorry_done(request: HttpRequest, token: str) -> HttpResponse:
    """What the person chose, as it stands now: subscribed, waiting for confirmation, or staying away."""
    recipient = wayback.sorry_recipient(token)
    if recipient is None:
        return _page(request, "invalid.html", status=400)
    consent = wayback.consent_latest(recipient_id=recipient.id)
    if consent is None:
        return _see(reverse("sorry_person", args=[token]))
    ctx = {
        "consent": consent,
        "pending": wayback.consent_pending(consent),
        "masked": words.mask_email(recipient.email),
        "token": token,
        "resent": request.GET.get("resent"),
    }
    return _page(request, "done.html", ctx, brand=brand_for(recipient.campaign))


@csrf_exempt
@require_POST
def sorry_resend(request: HttpRequest, token: str) -> HttpResponse:
    """Send the confirmation email again, for a re-signup still waiting for it."""
    recipient = wayback.sorry_recipient(token)
    if recipient is None:
        return _page(request, "invalid.html", status=400)
    consent = wayback.consent_latest(recipient_id=recipient.id)
    sent = bool(consent) and wayback.confirmation_resend(consent=consent)
    return _see(reverse("sorry_done", args=[token]) + ("?resent=1" if sent else "?resent=wait"))


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
    if request.method == "POST":
        wayback.consent_confirm(consent=consent)
        return _see(request.path)
    ctx = {"consent": consent, "masked": words.mask_email(consent.email), "confirmed": bool(consent.confirmed_at)}
    return _page(request, "confirm.html", ctx, brand=brand_for(consent.campaign))


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what a click would do, or that it is done; POST unsubscribes at once.

    The one-click POST of RFC 8058 (a mail provider, no browser) gets the page itself; a person's button a redirect.
    """
    delivery = wayback.delivery_for_unsubscribe_token(token)
    if delivery is None:
        return _page(request, "unsubscribe_invalid.html", status=400)
    brand = brand_for(delivery.campaign)
    masked = words.mask_email(delivery.email)
    if request.method == "POST":
        one_click = "List-Unsubscribe" in request.POST
        wayback.unsubscribe(delivery=delivery, source="one-click" if one_click else "link")
        if one_click:
            return _page(request, "unsubscribed.html", {"masked": masked}, brand=brand)
        return _see(request.path)
    if wayback.unsubscribed_already(delivery=delivery):
        return _page(request, "unsubscribed.html", {"masked": masked}, brand=brand)
    return _page(request, "unsubscribe.html", {"masked": masked, "token": token}, brand=brand)
