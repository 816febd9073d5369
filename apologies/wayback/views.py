"""The public side: the page people reach from a letter, a QR code or an email. No login, no cookies needed.

GET never changes anything (mail scanners open links); every POST is tied to a signed token or a code,
so they carry no CSRF token: only the person holding the letter or the email can make the choice.
Every POST answers with a redirect to a page that shows the state truthfully, so a reload never posts again.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, HttpResponseServerError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views import defaults as django_defaults
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apologies import links
from apologies.campaigns import locales, words
from apologies.campaigns.brand import Brand, brand_for, valid_color
from apologies.wayback import services as wayback
from apologies.wayback.models import Consent
from config.clientip import client_ip


def _asked_language(request: HttpRequest) -> str:
    """The language the visitor picked with the switch (?lang=, or the form of a page shown in it), if we have it."""
    asked = request.GET.get("lang") or (request.POST.get("lang", "") if request.method == "POST" else "")
    return asked if asked in locales.page_languages() else ""


def browser_language(request: HttpRequest) -> str:
    """The first language of the browser's Accept-Language, by preference, that we have; "" when none is."""
    for accepted, _ in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        try:
            return translation.get_supported_language_variant(accepted)
        except LookupError:
            continue
    return ""


def page_language(request: HttpRequest, own: str = "", default: str = "") -> str:
    """The switch's choice; else the person's own language; else the browser's; else their campaign's default.

    A person's language that is only their campaign's default says nothing of them: the browser they read
    with does (services.own_language gives "" then). A visitor we know nothing of gets the browser's.
    """
    asked = _asked_language(request)
    if asked:
        return asked
    if own or default:
        return locales.page_language(own, browser_language(request), default)
    return locales.page_language(translation.get_language_from_request(request))


def _switch(request: HttpRequest, current: str) -> list[tuple[str, str, str, bool]]:
    """The language switch: a plain link per language to this same page (a GET only shows, never changes)."""
    query = request.GET.copy()
    entries = []
    for code in locales.page_languages():
        query["lang"] = code
        entries.append((code, locales.language_name(code), f"{request.path}?{query.urlencode()}", code == current))
    return entries


def _page(
    request: HttpRequest,
    template: str,
    ctx: dict | None = None,
    status: int = 200,
    brand: Brand | None = None,
    language: str = "",
) -> HttpResponse:
    """Every public page: one base, the brand of the campaign (or the site's), in the page's language."""
    language = language or page_language(request)
    context = {
        **(brand or brand_for()).page_context(),
        "page_language": language,
        "page_dir": locales.language_direction(language),
        "language_switch": _switch(request, language),
        "language_asked": _asked_language(request),
        **(ctx or {}),
    }
    with translation.override(language):
        response = render(request, f"apologies/public/{template}", context, status=status)
    # Personal pages: never cached by a proxy, never indexed.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    response["Content-Language"] = language
    patch_vary_headers(response, ["Accept-Language"])
    return response


def _see(url: str, request: HttpRequest | None = None) -> HttpResponse:
    """303: after a POST, the browser GETs the page that shows what happened (in the language it was shown in)."""
    asked = _asked_language(request) if request is not None else ""
    if asked:
        url += ("&" if "?" in url else "?") + urlencode({"lang": asked})
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
        typed = request.POST.get("code", "")
        if wayback.code_blank(typed) and wayback.code_tries_left(ip) > 0:
            # Nothing typed (the form has no browser check) is no guess: ask for the code, keep the tries.
            return _page(request, "code.html", {"typed": "", "blank": True})
        return _code_typed(request, typed, ip)
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
        return _see(reverse("sorry") + "?" + urlencode({"wrong": "1", "code": typed[:40]}), request)
    wayback.code_try_give_back(ip)
    # How the person arrived (a typed code) is signed into the token of their page, never a form field.
    return _see(reverse("sorry_person", args=[links.sorry_token(recipient, via=links.VIA_CODE)]), request)


@csrf_exempt
def sorry_person(request: HttpRequest, token: str) -> HttpResponse:
    read = links.sorry_token_read(token)
    if read is None:
        if wayback.code_candidates(token):
            # A code typed into the path (example.com/sorry/7AYA-B96Q): that person's page, same try limit.
            ip = client_ip(request)
            return _code_typed(request, token, ip) if request.method == "GET" else _see(reverse("sorry"), request)
        return _page(request, "invalid.html", status=400)
    recipient_id, arrived = read
    if request.method == "POST":
        return _sorry_choose(request, token, recipient_id, arrived)
    # The page everyone from a mailing opens: one query (and one for the variant's words), cached until they choose.
    asked = _asked_language(request)
    browser = browser_language(request)
    key = wayback.sorry_page_key(recipient_id, arrived, asked or wayback.person_page_key_language(browser))
    cached = cache.get(key)
    if cached is not None:
        return _cached_response(*cached)
    data = wayback.sorry_page_data(recipient_id)
    if data is None:
        return _page(request, "invalid.html", status=400)
    own = wayback.own_language(
        language=data["language"] or "",
        contact_language=data["contact__language"] or "",
        default=data["campaign__default_language"],
    )
    language = page_language(request, own, data["campaign__default_language"])
    incident_words = wayback.sorry_page_words(row=data, language=language)
    brand = wayback.brand_of_row(data)
    country = data["contact__country"] or ""
    tz = locales.zone_of(
        time_zone=data["contact__time_zone"] or "", country=country, fallback=data["campaign__time_zone"] or ""
    )
    masked = words.mask_email(data["email"])
    pending = data["earlier_choice"] == Consent.Choice.RESUBSCRIBE and bool(
        data["earlier_sent"] and not data["earlier_confirmed"]
    )
    earlier = "" if pending else (data["earlier_choice"] or "")
    first_name = data["contact__first_name"] or ""
    with translation.override(language):
        ctx = {
            "token": token,
            "first_name": first_name,
            # An Arabic or Hebrew name keeps its own direction inside the sentence around it.
            "first_name_html": format_html('<bdi dir="rtl">{}</bdi>', first_name)
            if locales.text_direction(first_name) == "rtl"
            else escape(first_name),
            "messages_phrase": words.count_phrase(data["messages"], language, country),
            "max_in_10_min": data["max_in_10_min"],
            "max_phrase": words.count_phrase(data["max_in_10_min"], language, country),
            "started_on": locales.format_day(
                data["campaign__incident__started_at"], language=language, country=country, tz=tz
            ),
            # The variant's words in the page's language, else the incident's (in the campaign's default language):
            # each marked with its language, for screen readers.
            "what_happened": incident_words["what_happened"][0],
            "what_happened_language": incident_words["what_happened"][1],
            "fix": incident_words["the_fix"][0],
            "fix_language": incident_words["the_fix"][1],
            "earlier": CHOSE.get(earlier, lambda: "")(),
            "earlier_on": locales.format_day(data["earlier_at"], language=language, country=country, tz=tz)
            if data["earlier_at"]
            else "",
            "pending": pending,
            "masked": masked,
            "choices": [
                (value, wayback.consent_text(value, masked, brand.name, language)) for value in Consent.Choice.values
            ],
        }
    response = _page(request, "person.html", ctx, brand=brand, language=language)
    cache.set(key, (response.content, language), timeout=wayback.SORRY_PAGE_SECONDS)
    return response


# An earlier choice, as the person page reminds it (the staff labels of Consent.Choice stay English).
CHOSE = {
    Consent.Choice.RESUBSCRIBE: lambda: translation.gettext("subscribed again"),
    Consent.Choice.STAY: lambda: translation.gettext("stayed unsubscribed"),
    Consent.Choice.NEVER: lambda: translation.gettext("never contact me again"),
}


def _sorry_choose(request: HttpRequest, token: str, recipient_id: int, arrived: str) -> HttpResponse:
    recipient = wayback.sorry_recipient(token)
    if recipient is None:
        return _page(request, "invalid.html", status=400)
    choice = request.POST.get("choice", "")
    if choice not in Consent.Choice.values:
        return _see(request.path, request)
    wayback.consent_record(
        recipient=recipient,
        choice=choice,
        arrived=arrived,  # from the signed token; any "via" the form may send is ignored
        ip=client_ip(request) or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        # The language the buttons were shown in: their words are what the person agreed to.
        language=request.POST.get("shown_in", ""),
    )
    return _see(reverse("sorry_done", args=[token]), request)


@require_GET
def sorry_done(request: HttpRequest, token: str) -> HttpResponse:
    """What the person chose, as it stands now: subscribed, waiting for confirmation, or staying away."""
    recipient = wayback.sorry_recipient(token)
    if recipient is None:
        return _page(request, "invalid.html", status=400)
    consent = wayback.consent_latest(recipient_id=recipient.id)
    if consent is None:
        return _see(reverse("sorry_person", args=[token]), request)
    back = reverse("sorry_person", args=[token])
    asked = _asked_language(request)
    ctx = {
        "consent": consent,
        "pending": wayback.consent_pending(consent),
        "masked": words.mask_email(recipient.email),
        "token": token,
        "resent": request.GET.get("resent"),
        "back_link": format_html('<a href="{}">', back + (f"?lang={asked}" if asked else "")),
        "link_end": mark_safe("</a>"),
    }
    language = page_language(request, wayback.own_language_of(recipient), recipient.campaign.default_language)
    return _page(request, "done.html", ctx, brand=brand_for(recipient.campaign), language=language)


@csrf_exempt
@require_POST
def sorry_resend(request: HttpRequest, token: str) -> HttpResponse:
    """Send the confirmation email again, for a re-signup still waiting for it."""
    recipient = wayback.sorry_recipient(token)
    if recipient is None:
        return _page(request, "invalid.html", status=400)
    consent = wayback.consent_latest(recipient_id=recipient.id)
    sent = bool(consent) and wayback.confirmation_resend(consent=consent)
    return _see(reverse("sorry_done", args=[token]) + ("?resent=1" if sent else "?resent=wait"), request)


def _cached_response(content: bytes, language: str) -> HttpResponse:
    response = HttpResponse(content)
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    response["Content-Language"] = language
    patch_vary_headers(response, ["Accept-Language"])
    return response


@csrf_exempt
def sorry_confirm(request: HttpRequest, token: str) -> HttpResponse:
    consent = wayback.consent_for_confirm_token(token)
    if consent is None:
        return _page(request, "invalid.html", status=400)
    if request.method == "POST":
        wayback.consent_confirm(consent=consent)
        return _see(request.path, request)
    ctx = {"consent": consent, "masked": words.mask_email(consent.email), "confirmed": bool(consent.confirmed_at)}
    language = page_language(request, consent.language, consent.campaign.default_language)
    return _page(request, "confirm.html", ctx, brand=brand_for(consent.campaign), language=language)


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
    recipient = delivery.recipient
    language = page_language(request, wayback.own_language_of(recipient), recipient.campaign.default_language)
    if request.method == "POST":
        one_click = "List-Unsubscribe" in request.POST
        wayback.unsubscribe(delivery=delivery, source="one-click" if one_click else "link")
        if one_click:
            return _page(request, "unsubscribed.html", {"masked": masked}, brand=brand, language=language)
        return _see(request.path, request)
    if wayback.unsubscribed_already(delivery=delivery):
        return _page(request, "unsubscribed.html", {"masked": masked}, brand=brand, language=language)
    return _page(request, "unsubscribe.html", {"masked": masked, "token": token}, brand=brand, language=language)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: staff get the staff page; anyone else the public one, in their browser's language, with the code form."""
    if getattr(getattr(request, "user", None), "is_authenticated", False):
        return django_defaults.page_not_found(request, exception)
    return _page(request, "not_found.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: the public page in the visitor's language, drawn without the database (which may be what failed)."""
    if getattr(getattr(request, "user", None), "is_authenticated", False):
        return django_defaults.server_error(request)
    language = locales.page_language(translation.get_language_from_request(request))
    context = {
        **brand_for().page_context(),
        "page_language": language,
        "page_dir": locales.language_direction(language),
    }
    try:
        with translation.override(language):
            content = render_to_string("apologies/public/server_error.html", context)
    except Exception:  # noqa: BLE001 - the error page itself must never fail
        return django_defaults.server_error(request)
    return HttpResponseServerError(content)
