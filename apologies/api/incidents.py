"""API endpoints of incidents: create one, upload a send log and follow it, read the ledger and results."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, File, Form, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.files import UploadedFile
from pydantic import ValidationInfo, field_validator

from apologies.api import access
from apologies.results import services as outcomes
from incidents import imports, sendlogs
from incidents import services as incident_services
from incidents.models import AffectedPerson, Import, Incident

router = Router(tags=["incidents"])

# What `format` of a send-log upload may be besides a registered format: both mean "detect it" to import_create().
AUTO_FORMATS = ("", "auto")


class IncidentIn(Schema):
    title: str = Field(..., max_length=200)
    started_at: datetime
    ended_at: datetime | None = None
    workflows: list[str] = []
    what_happened: str = ""
    root_cause: str = ""
    fix: str = ""

    @field_validator("title", "workflows", "what_happened", "root_cause", "fix")
    @classmethod
    def without_nul(cls, value: str | list[str]) -> str | list[str]:
        # The browser's forms refuse it (Django's CharField); here it would reach PostgreSQL and fail as a 500.
        if any("\x00" in text for text in (value if isinstance(value, list) else [value])):
            raise ValueError("contains a NUL character (\\u0000), which no database text can hold")
        return value

    @field_validator("ended_at")
    @classmethod
    def ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        # The model's rule, checked here too so the answer has the shape of the API's other invalid input (the model's
        # own check would come back as a dict). started_at is declared first, hence validated first; it is absent
        # from info.data when it was itself invalid.
        start = info.data.get("started_at")
        problem = Incident.window_problem(start, value)
        if problem:
            raise ValueError(problem)
        return value


class IncidentOut(Schema):
    id: int
    title: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    workflows: list[str]
    what_happened: str
    root_cause: str
    fix: str
    affected: int
    ledger_computed_at: datetime | None


class ImportOut(Schema):
    id: int
    incident_id: int | None
    original_name: str
    format: str
    status: str
    status_label: str
    finished: bool
    percent: int
    rows_read: int
    imported: int
    duplicates: int
    rejected: int
    message: str
    errors: list


class LedgerRow(Schema):
    email: str
    messages: int
    first_at: datetime
    last_at: datetime
    max_in_10_min: int
    state: str
    tier: str


class LedgerOut(Schema):
    incident_id: int
    count: int
    offset: int
    limit: int
    stats: dict
    rows: list[LedgerRow]


def incident_out(incident: Incident) -> dict:
    return {
        **{f: getattr(incident, f) for f in IncidentOut.model_fields if hasattr(incident, f)},
        "affected": incident.affected.count(),
    }


def import_out(imp: Import) -> dict:
    return {
        "id": imp.id,
        "incident_id": imp.incident_id,
        "original_name": imp.original_name,
        "format": imp.format,
        "errors": imp.errors[:100],
        **imp.progress(),
    }


@router.post("", response={201: IncidentOut})
def incident_create(request: HttpRequest, payload: IncidentIn):
    """Log a new incident; the caller becomes its owner."""
    access.permission_needed(request, "incidents.add_incident")
    incident = incident_services.incident_create(owner=request.user, **payload.dict())
    return Status(201, incident_out(incident))


@router.get("/{incident_id}", response=IncidentOut)
def incident_read(request: HttpRequest, incident_id: int):
    access.permission_needed(request, "incidents.view_incident")
    return incident_out(get_object_or_404(Incident, id=incident_id))


@router.post("/{incident_id}/sendlogs", response={202: ImportOut})
def sendlog_upload(request: HttpRequest, incident_id: int, file: File[UploadedFile], format: Form[str] = "auto"):
    """Upload a send log (any format the browser upload takes, gzip or not); it is imported by a worker."""
    access.permission_needed(request, "incidents.add_import")
    if format not in AUTO_FORMATS and format not in sendlogs.FORMATS:
        # Refused now, in the shape of the other invalid input: stored, it would fail on the worker as an
        # "unexpected error" (sendlogs.parse() raises ValueError for a format it does not know).
        names = ", ".join(repr(name) for name in ("auto", *sendlogs.FORMATS))
        raise ValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("form", "format"),
                    "msg": f"Unknown format {format!r}: use one of {names}, or leave it empty to detect it.",
                }
            ]
        )
    incident = get_object_or_404(Incident, id=incident_id)
    try:
        imp = imports.import_create(
            kind=Import.Kind.SENDLOG, incident=incident, uploaded=file, fmt=format, user=request.user
        )
    except sendlogs.FormatError as e:
        raise HttpError(422, str(e)) from e
    return Status(202, import_out(imp))


@router.get("/imports/{import_id}", response=ImportOut)
def import_read(request: HttpRequest, import_id: int):
    """An import's progress: poll until `finished`."""
    access.permission_needed(request, "incidents.view_import")
    return import_out(get_object_or_404(Import, id=import_id))


@router.get("/{incident_id}/ledger", response=LedgerOut)
def ledger_read(request: HttpRequest, incident_id: int, offset: int = 0, limit: int = 500, state: str = ""):
    """The people an incident hit, most messages first, a page at a time (limit at most 5,000)."""
    access.permission_needed(request, "incidents.view_affectedperson")
    incident = get_object_or_404(Incident, id=incident_id)
    limit = max(1, min(limit, 5000))
    offset = max(0, offset)
    people = AffectedPerson.objects.filter(incident=incident).order_by("-messages", "email")
    if state:
        people = people.filter(state=state)
    labels = incident.tier_labels()
    rows = [
        {
            "email": p.email,
            "messages": p.messages,
            "first_at": p.first_at,
            "last_at": p.last_at,
            "max_in_10_min": p.max_in_10_min,
            "state": p.state,
            "tier": labels[p.tier] if p.tier < len(labels) else "",
        }
        for p in people[offset : offset + limit]
    ]
    return {
        "incident_id": incident.id,
        "count": people.count(),
        "offset": offset,
        "limit": limit,
        "stats": incident.ledger_stats,
        "rows": rows,
    }


@router.get("/{incident_id}/results", response=dict)
def incident_results(request: HttpRequest, incident_id: int):
    """The funnel over every campaign of the incident (as on its results page)."""
    access.permission_needed(request, "apologies.view_campaign")
    incident = get_object_or_404(Incident, id=incident_id)
    campaigns = list(incident.campaigns.all())
    return outcomes.results_for(campaigns=campaigns, affected=incident.affected.count())
