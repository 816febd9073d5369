"""Template filters for what recipients read, in the active language (Babel)."""

from __future__ import annotations

from babel.lists import format_list
from django import template
from django.utils import translation

from apologies.campaigns import locales

register = template.Library()


@register.filter
def as_list(items: list[str]) -> str:
    """["a box", "a mug", "a pen"] -> "a box, a mug and a pen" / "a box, a mug et a pen", as the language joins."""
    items = [str(item) for item in items]
    if not items:
        return ""
    return format_list(items, locale=locales.babel_locale(translation.get_language() or ""))


@register.filter
def language_name(code: str) -> str:
    """fr -> "French": a language's name in English, for the staff pages."""
    return locales.language_name_in(code, "en") if code else ""
