"""Each person's language and time zone, and their dates, numbers, money and plurals (Babel and gettext).

The language of a person: their contact's own (an ISO 639 code), else the first language of their country
that we can write (a catalogue in locale/ or a variant of the campaign's words), else the campaign's
default. What a recipient reads around the marketer's words follows the language of those words, so one
email or letter never mixes two languages; the public page follows the person.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.utils import translation

from apologies.sending import zones
from incidents.contacts.languages import country_languages, language_code


def page_languages() -> list[str]:
    """The languages with a catalogue: settings.LANGUAGES."""
    return [code for code, _ in settings.LANGUAGES]


def page_language(*candidates: str) -> str:
    """The first of `candidates` we have a catalogue for ("fr-BE" counts as "fr"), else the site's default."""
    have = page_languages()
    for code in (*candidates, settings.AMENDS_DEFAULT_LANGUAGE, settings.LANGUAGE_CODE):
        base = language_code(code or "")
        if base in have:
            return base
    return have[0]


def person_language(*, contact, default: str, available: Iterable[str] = ()) -> str:
    """The contact's language; else their country's first language we can write; else `default`.

    `available` adds languages the campaign has words for beyond the catalogues (an Italian variant).
    """
    own = language_code(getattr(contact, "language", "") or "")
    if own:
        return own
    known = set(page_languages()) | {language_code(code) for code in available if code}
    for code in country_languages(getattr(contact, "country", "") or ""):
        if code in known:
            return code
    return language_code(default) or page_language()


def person_zone(*, contact, campaign=None) -> ZoneInfo:
    """The contact's zone; else their country's main zone; else the campaign's; else AMENDS_DEFAULT_PERSON_ZONE."""
    return zone_of(
        time_zone=getattr(contact, "time_zone", "") or "",
        country=getattr(contact, "country", "") or "",
        fallback=getattr(campaign, "time_zone", "") or "",
    )


def zone_of(*, time_zone: str, country: str, fallback: str = "") -> ZoneInfo:
    """person_zone from the parts (a contact's zone and country, the campaign's zone), for rows read as values."""
    return zones.zone_for(time_zone=time_zone, country=country, fallback=fallback)


@cache
def babel_locale(language: str, country: str = "") -> Locale:
    """The language as written in the person's country where Babel knows it (en_GB: 20 November), else plain."""
    language = page_language(language)
    country = (country or "").upper()
    if len(country) == 2:
        try:
            return Locale.parse(f"{language}_{country}")
        except (UnknownLocaleError, ValueError):
            pass
    return Locale.parse(language)


def format_day(day: date | datetime, *, language: str, country: str = "", tz: ZoneInfo | None = None) -> str:
    """20 November 2026, 20 novembre 2026, 20. November 2026, 20 de noviembre de 2026 (in the person's zone)."""
    if isinstance(day, datetime):
        day = day.astimezone(tz).date() if tz else day.date()
    return format_date(day, "long", locale=babel_locale(language, country))


def format_moment(moment: datetime, *, language: str, tz: ZoneInfo, country: str = "") -> str:
    """A day and a time of day where the person lives, as their language writes it, with no zone name:
    "20 novembre 2026, 15:05". A person reads their own clock; "UTC" means nothing to them."""
    locale = babel_locale(language, country)
    local = moment.astimezone(tz)
    pattern = locale.datetime_formats["long"]
    return pattern.format(
        format_time(local.timetz(), "short", locale=locale), format_date(local.date(), "long", locale=locale)
    )


def format_number(n: int | float | Decimal, *, language: str, country: str = "") -> str:
    """1,234 / 1 234 / 1.234: grouped as the language writes it."""
    return format_decimal(n, locale=babel_locale(language, country))


def format_money(amount: Decimal | float, currency: str, *, language: str, country: str = "") -> str:
    """€12.50 / 12,50 € / 12,50 €: the amount in the currency, as the language writes it."""
    return format_currency(amount, currency, locale=babel_locale(language, country))


def emails_phrase(n: int, *, language: str, country: str = "") -> str:
    """ "1 email", "25 emails"; "1 courriel", "2 courriels": the number with the word in its plural form."""
    language = page_language(language)
    with translation.override(language):
        phrase = translation.ngettext("%(count)s email", "%(count)s emails", n)
    return phrase % {"count": format_number(n, language=language, country=country)}


def text_direction(text: str) -> str:
    """ "rtl" when the first strong character is right-to-left (Arabic, Hebrew), else "ltr"."""
    for ch in text or "":
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def language_direction(language: str) -> str:
    """The direction of a page in `language`: "rtl" for Arabic, Hebrew, Persian, Urdu; else "ltr"."""
    return "rtl" if translation.get_language_info(page_language(language))["bidi"] else "ltr"


def language_name(code: str) -> str:
    """The language's own name (Français, Deutsch), capitalised as a switch lists it; the code if unknown."""
    name = language_name_in(code, code)
    return name[:1].upper() + name[1:]


def language_name_in(code: str, where: str) -> str:
    """The language's name in the language `where` (fr in en: French); the code if unknown."""
    try:
        return Locale.parse(code).get_display_name(where) or code
    except (UnknownLocaleError, ValueError, TypeError):
        return code
