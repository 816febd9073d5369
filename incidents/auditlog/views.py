"""The audit log page: every action and model change, filterable by user, action, date and text; admins only."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from .access import admin_required
from .services import Filters, audit_actions, audit_search

PAGE = 50


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@require_safe
@admin_required
def audit_list(request: HttpRequest) -> HttpResponse:
    get = request.GET
    filters = Filters(
        user=get.get("user", "").strip(),
        action=get.get("action", "").strip(),
        since=_day(get.get("since", "")),
        until=_day(get.get("until", "")),
        text=get.get("q", "").strip(),
    )
    try:
        page = max(1, int(get.get("page", "1")))
    except ValueError:
        page = 1
    rows, total = audit_search(filters=filters, offset=(page - 1) * PAGE, limit=PAGE)
    query = urlencode({k: v for k, v in get.items() if k != "page" and v})
    return render(
        request,
        "auditlog/list.html",
        {
            "rows": rows,
            "total": total,
            "filters": filters,
            "actions": audit_actions(),
            "page": page,
            "has_previous": page > 1,
            "has_next": page * PAGE < total,
            "query": query,
        },
    )
