"""A person's language as contact lists write it ("fr", "fr-BE", "French", "Deutsch"), and the languages of a
country, from Babel's copy of the Unicode CLDR."""

from __future__ import annotations

from functools import cache

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages

# Names in the languages most contact lists are written in; Babel knows every language's name in each.
NAME_LOCALES = ("en", "fr", "de", "es", "it", "pt", "nl")


@cache
def language_names() -> dict[str, str]:
    """ "french" -> "fr", "français" -> "fr", "deutsch" -> "de": each language's name, lower case, to its code."""
    names: dict[str, str] = {}
    for where in NAME_LOCALES:
        for code, name in Locale.parse(where).languages.items():
            if "_" not in code and 2 <= len(code) <= 3:
                names.setdefault(name.casefold(), code)
    return names


@cache
def language_code(typed: str) -> str:
    """The ISO 639 code of a language as people write it, lower case ("fr-FR" -> "fr"), or "" when unknown."""
    text = (typed or "").strip()
    if not text:
        return ""
    try:
        return Locale.parse(text.replace("-", "_")).language
    except (UnknownLocaleError, ValueError, TypeError):
        return language_names().get(text.casefold(), "")


def country_languages(country: str) -> tuple[str, ...]:
    """The languages of a country, most spoken first (official and de facto ones): BE -> nl, fr, de."""
    country = (country or "").strip().upper()
    if len(country) != 2:
        return ()
    return tuple(code.split("_")[0] for code in get_official_languages(country, de_facto=True))
