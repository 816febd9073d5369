"""Writing and reading the app-wide audit log: audit_record for actions, audit_search over actions and model changes."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import date, datetime, time

from auditlog.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import AuditEntry

LOG_ACTIONS = {LogEntry.Action.CREATE: "created", LogEntry.Action.UPDATE: "updated", LogEntry.Action.DELETE: "deleted"}


def audit_record(
    *, user: AbstractBaseUser | AnonymousUser | None, action: str, target: str = "", detail: str = ""
) -> None:
    """Note an action that is not a model change; `target` names what it was done to, e.g. "campaign 12"."""
    real = user if user is not None and user.is_authenticated else None
    AuditEntry.objects.create(
        user=real,
        username=real.get_username() if real else "",
        action=action[:60],
        target=target[:300],
        detail=detail,
    )


@dataclass(frozen=True)
class Row:
    """One line of the audit page, from either source."""

    at: datetime
    username: str
    action: str
    target: str
    detail: str


@dataclass(frozen=True)
class Filters:
    user: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None
    text: str = ""


def audit_actions() -> list[str]:
    """Every action name the filter can offer: recorded actions, then model changes as "<model>.<change>"."""
    recorded = AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()
    models = LogEntry.objects.order_by().values_list("content_type__model", flat=True).distinct()
    changes = sorted(f"{m}.{c}" for m in models for c in LOG_ACTIONS.values())
    return [*recorded, *changes]


def audit_search(*, filters: Filters, offset: int = 0, limit: int = 50) -> tuple[list[Row], int]:
    """Rows newest first from both sources, and how many match in all."""
    entries = _entries(filters)
    changes = _changes(filters)
    window = offset + limit
    merged = heapq.merge(
        (_entry_row(e) for e in entries.select_related(None)[:window]),
        (_change_row(c) for c in changes.select_related("actor", "content_type")[:window]),
        key=lambda row: row.at,
        reverse=True,
    )
    rows = list(merged)[offset:window]
    return rows, entries.count() + changes.count()


def _bounds(filters: Filters) -> tuple[datetime | None, datetime | None]:
    tz = timezone.get_current_timezone()
    since = datetime.combine(filters.since, time.min, tz) if filters.since else None
    until = datetime.combine(filters.until, time.max, tz) if filters.until else None
    return since, until


def _entries(filters: Filters) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.order_by("-at", "-id")
    since, until = _bounds(filters)
    if filters.user:
        qs = qs.filter(username__iexact=filters.user)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if since:
        qs = qs.filter(at__gte=since)
    if until:
        qs = qs.filter(at__lte=until)
    if filters.text:
        qs = qs.filter(Q(target__icontains=filters.text) | Q(detail__icontains=filters.text))
    return qs


def _changes(filters: Filters) -> QuerySet[LogEntry]:
    qs = LogEntry.objects.order_by("-timestamp", "-id")
    since, until = _bounds(filters)
    if filters.user:
        qs = qs.filter(actor__username__iexact=filters.user)
    if filters.action:
        model, _, change = filters.action.partition(".")
        codes = [code for code, name in LOG_ACTIONS.items() if name == change]
        if not codes:
            return qs.none()
        qs = qs.filter(content_type__model=model, action__in=codes)
    if since:
        qs = qs.filter(timestamp__gte=since)
    if until:
        qs = qs.filter(timestamp__lte=until)
    if filters.text:
        qs = qs.filter(
            Q(object_repr__icontains=filters.text)
            | Q(changes__icontains=filters.text)
            | Q(changes_text__icontains=filters.text)
        )
    return qs


def _entry_row(entry: AuditEntry) -> Row:
    return Row(at=entry.at, username=entry.username, action=entry.action, target=entry.target, detail=entry.detail)


def _change_row(change: LogEntry) -> Row:
    model = change.content_type.model if change.content_type_id else "object"
    fields = change.changes_dict if change.action == LogEntry.Action.UPDATE else {}
    detail = "; ".join(f"{name}: {_change_text(value)}" for name, value in fields.items())
    return Row(
        at=change.timestamp,
        username=change.actor.get_username() if change.actor else "",
        action=f"{model}.{LOG_ACTIONS.get(change.action, 'changed')}",
        target=f"{model} {change.object_pk}: {change.object_repr}"[:300],
        detail=detail,
    )


def _change_text(value) -> str:
    return f"{value[0]} → {value[1]}" if isinstance(value, list | tuple) and len(value) == 2 else str(value)
