"""The brand's stylesheet for the public pages: its colour as a CSS variable, so no page needs an inline style."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

DEFAULT_COLOR = "#b3261e"
# A hex colour or a CSS colour name: nothing that could close the rule and start another.
COLOR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}")


def brand_color() -> str:
    color = settings.AMENDS_BRAND_COLOR.strip()
    return color if COLOR.fullmatch(color) else DEFAULT_COLOR


@require_safe
@cache_control(public=True, max_age=3600)
def brand_stylesheet(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f":root {{ --accent: {brand_color()}; }}\n", content_type="text/css; charset=utf-8")
