"""Pages of incidents: the incident list and ledger, imports and their mapping, contacts and the suppression list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from incidents.auditlog.services import audit_record

from . import imports, ledger, sendlogs, services
from .contacts import services as contact_services
from .contacts.addresses import address_lines
from .contacts.suppressions import suppression_add as suppression_list_add
from .forms import (
    ContactForm,
    FileUploadForm,
    IncidentForm,
    MappingForm,
    SendLogUploadForm,
    SuppressionForm,
    SuppressionUploadForm,
)
from .models import AffectedPerson, Contact, Import, Incident, Suppression

view_required = permission_required("incidents.view_incident", raise_exception=True)
edit_required = permission_required("incidents.change_incident", raise_exception=True)


def editable_incident(request: HttpRequest, incident_id: int) -> Incident:
    """The incident, if this user may change it (its owner or an admin): 403 for everyone else."""
    incident = get_object_or_404(Incident, id=incident_id)
    if not incident.can_edit(request.user):
        raise PermissionDenied("Only the incident's owner or an admin can change it.")
    return incident


@login_required
@view_required
def incident_list(request: HttpRequest) -> HttpResponse:
    incidents = (
        Incident.objects.annotate(people=Count("affected", distinct=True))
        .select_related("owner")
        .order_by("-started_at", "-id")
    )
    return render(request, "incidents/list.html", {"incidents": incidents})


@login_required
@permission_required("incidents.add_incident", raise_exception=True)
def incident_create(request: HttpRequest) -> HttpResponse:
    form = IncidentForm(request.POST or None, initial={"owner": request.user})
    if request.method == "POST" and form.is_valid():
        incident = services.incident_save(incident=form.save(commit=False))
        messages.success(request, "Incident logged. Next: upload the ESP's send log.")
        return redirect(incident)
    return render(request, "incidents/form.html", {"form": form})


@login_required
@edit_required
def incident_edit(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = editable_incident(request, incident_id)
    form = IncidentForm(request.POST or None, instance=incident)
    if request.method == "POST" and form.is_valid():
        form.save(commit=False)
        services.incident_update(incident=incident, changed=form.ledger_fields_changed())
        messages.success(request, "Incident saved.")
        return redirect(incident)
    return render(request, "incidents/form.html", {"form": form, "incident": incident})


@login_required
@view_required
def incident_detail(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident, id=incident_id)
    stats = incident.ledger_stats or {}
    charts = {
        "burst": {
            "labels": _bucket_labels([at for at, _ in stats.get("per_bucket", [])]),
            "values": [n for _, n in stats.get("per_bucket", [])],
            "bucket_minutes": stats.get("bucket_seconds", 60) // 60,
        },
        "counts": {
            "labels": [m for m, _ in stats.get("by_count", [])],
            "values": [n for _, n in stats.get("by_count", [])],
        },
    }
    ctx = {
        "can_edit": incident.can_edit(request.user),
        "incident": incident,
        "stats": stats,
        "states": [
            (label, stats.get("by_state", {}).get(value, 0), value) for value, label in AffectedPerson.State.choices
        ],
        "charts": charts,
        "imports": incident.imports.all()[:20],
        "campaigns": incident.campaigns.select_related("author"),
        "upload_form": SendLogUploadForm(),
    }
    return render(request, "incidents/detail.html", ctx)


def _bucket_labels(times: list[str]) -> list[str]:
    """'14:05' when the burst fits in one day, '11-20 14:05' when it does not, in the viewer's time zone."""
    parsed = [datetime.fromisoformat(t) if t[10:11] == "T" else None for t in times]
    local = [timezone.localtime(at if at.tzinfo else at.replace(tzinfo=UTC)) if at else None for at in parsed]
    if any(at is None for at in local):
        return times
    one_day = len({at.date() for at in local}) <= 1
    return [at.strftime("%H:%M" if one_day else "%m-%d %H:%M") for at in local]


LEDGER_SORTS = {
    "messages": "-messages",
    "email": "email",
    "first_at": "first_at",
    "last_at": "-last_at",
    "max_in_10_min": "-max_in_10_min",
}


@login_required
@view_required
def incident_people(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident, id=incident_id)
    filters = _ledger_filters(request)
    sort = request.GET.get("sort", "messages")
    people = ledger.ledger_people(incident=incident, **filters)
    people = people.order_by(LEDGER_SORTS.get(sort, "-messages"), "email")
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    languages = contact_services.contacts_languages(emails=[p.email for p in page])
    for p in page:
        p.language, p.language_source = languages.get(p.email, ("", ""))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {
        "filters": urlencode(filters),
        "incident": incident,
        "page": page,
        "q": filters.get("q", ""),
        "state": filters.get("state", ""),
        "tier": filters.get("tier", ""),
        "sort": sort,
        "states": AffectedPerson.State.choices,
        "tiers": list(enumerate(incident.tier_labels())),
        "query": query.urlencode(),
    }
    return render(request, "incidents/people.html", ctx)


@login_required
@view_required
def incident_export(request: HttpRequest, incident_id: int, fmt: str) -> HttpResponse:
    incident = get_object_or_404(Incident, id=incident_id)
    # The People page's filters, so what is downloaded is what the page lists.
    filters = _ledger_filters(request)
    # Personal data leaving the building: recorded in the app-wide audit log.
    target = f"incident {incident.id}" + (f" ({urlencode(filters)})" if filters else "")
    audit_record(user=request.user, action=f"export.affected_{fmt}", target=target)
    name = f"affected-incident-{incident.id}" + "".join(f"-{v}" for k, v in filters.items() if k != "q")
    if fmt == "csv":
        response = StreamingHttpResponse(
            ledger.ledger_export_csv(incident=incident, **filters), content_type="text/csv"
        )
    else:
        response = StreamingHttpResponse(
            _json_array(ledger.ledger_rows(incident=incident, **filters)),
            content_type="application/json",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _ledger_filters(request: HttpRequest) -> dict[str, str]:
    """The People page's filters in the query string that apply (`ledger.ledger_people`'s q, state and tier),
    so a download's name and its audit entry name only real ones."""
    found = {
        "q": request.GET.get("q", "").strip(),
        "state": request.GET.get("state", ""),
        "tier": request.GET.get("tier", ""),
    }
    if found["state"] not in AffectedPerson.State.values:
        found["state"] = ""
    if not found["tier"].isdigit():
        found["tier"] = ""
    return {name: value for name, value in found.items() if value}


def _json_array(rows):
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + "\n" + json.dumps(row)
    yield "\n]\n"


@login_required
@permission_required("incidents.add_import", raise_exception=True)
@require_POST
def import_upload(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = editable_incident(request, incident_id)
    form = SendLogUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            imp = imports.import_create(
                kind=Import.Kind.SENDLOG,
                incident=incident,
                uploaded=form.cleaned_data["file"],
                fmt=form.cleaned_data["format"],
                user=request.user,
            )
        except sendlogs.FormatError as e:
            form.add_error("file", str(e))
        else:
            return redirect(imp)
    return render(request, "incidents/upload.html", {"incident": incident, "form": form}, status=400)


@login_required
@view_required
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    imp = get_object_or_404(Import.objects.select_related("incident"), id=import_id)
    ctx = {"imp": imp, "format_label": sendlogs.FORMAT_LABELS.get(imp.format, "")}
    if imp.status == Import.Status.NEEDS_MAPPING:
        ctx.update(_mapping_context(imp, None))
    return render(request, "incidents/import.html", ctx)


def _mapping_context(imp: Import, data) -> dict:
    choices = data or {}
    saved = imp.incident.csv_mapping if imp.incident else {}
    try:
        preview = imports.import_preview(
            imp=imp,
            encoding=choices.get("encoding", ""),
            delimiter=choices.get("delimiter", ""),
            event_column=choices.get("event", imp.mapping.get("event", "")),
            time_column=choices.get("time", imp.mapping.get("time", "")),
            date_format=choices.get("date_format", imp.date_format),
            time_zone=choices.get("time_zone", imp.time_zone or saved.get("time_zone", "")),
        )
    except sendlogs.FormatError as e:
        form = MappingForm(data, columns=[], initial={"encoding": choices.get("encoding", "")})
        return {"preview_error": str(e), "mapping_form": form, "encoding_only": True}
    initial = dict(
        imp.mapping,
        delimiter=imp.delimiter,
        date_format=imp.date_format,
        encoding=preview.encoding,
        time_zone=imp.time_zone or saved.get("time_zone", "") or "UTC",
        rows="messages" if not imp.mapping.get("message_id") else "events",
        remember=False,
    )
    form = MappingForm(data, columns=preview.header, initial=initial)
    return {"header": preview.header, "rows": preview.rows, "preview": preview, "mapping_form": form}


@login_required
@permission_required("incidents.add_import", raise_exception=True)
@require_POST
def import_mapping(request: HttpRequest, import_id: int) -> HttpResponse:
    imp = get_object_or_404(Import, id=import_id, status=Import.Status.NEEDS_MAPPING)
    if imp.incident_id is not None:
        editable_incident(request, imp.incident_id)
    ctx = {"imp": imp, **_mapping_context(imp, request.POST)}
    form = ctx.get("mapping_form")
    if "preview" in request.POST or ctx.get("encoding_only"):
        return render(request, "incidents/import.html", ctx, status=200 if "preview" in request.POST else 400)
    if form is not None and form.is_valid():
        imports.import_set_mapping(
            imp=imp,
            mapping=form.mapping(),
            delimiter=form.cleaned_data["delimiter"],
            date_format=form.cleaned_data["date_format"].strip(),
            remember=form.cleaned_data["remember"],
            encoding=form.cleaned_data["encoding"],
            time_zone=form.cleaned_data["time_zone"],
        )
        return redirect(imp)
    return render(request, "incidents/import.html", ctx, status=400)


@login_required
@view_required
def import_progress(request: HttpRequest, import_id: int) -> JsonResponse:
    imp = get_object_or_404(Import, id=import_id)
    return JsonResponse(imp.progress())


# Contacts


@login_required
@permission_required("incidents.view_contact", raise_exception=True)
def contact_list(request: HttpRequest) -> HttpResponse:
    contacts = Contact.objects.all()
    q = request.GET.get("q", "").strip()
    if q:
        contacts = contacts.filter(
            Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q) | Q(postal_code__icontains=q)
        )
    if request.GET.get("invalid"):
        contacts = contacts.filter(address_valid=False)
    page = Paginator(contacts, 50).get_page(request.GET.get("page"))
    imports = Import.objects.filter(kind=Import.Kind.CONTACTS)[:5]
    return render(
        request,
        "incidents/contacts.html",
        {"page": page, "q": q, "invalid": request.GET.get("invalid", ""), "form": FileUploadForm(), "imports": imports},
    )


@login_required
@permission_required("incidents.add_contact", raise_exception=True)
@require_POST
def contact_upload(request: HttpRequest) -> HttpResponse:
    form = FileUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        # The form's own words: "No file was submitted.", "The submitted file is empty."
        messages.error(request, " ".join(form.errors.get("file", [])) or "Choose a CSV file of contacts to upload.")
        return redirect("incidents:contacts")
    try:
        imp = imports.import_create(kind=Import.Kind.CONTACTS, uploaded=form.cleaned_data["file"], user=request.user)
    except sendlogs.FormatError as e:
        messages.error(request, f"{form.cleaned_data['file'].name}: {e}")
        return redirect("incidents:contacts")
    return redirect(imp)


@login_required
@permission_required("incidents.change_contact", raise_exception=True)
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact, id=contact_id)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        contact_services.contact_save(contact=form.save(commit=False))
        messages.success(request, f"Saved {contact.email}.")
        return redirect("incidents:contacts")
    lines = address_lines(contact)
    return render(request, "incidents/contact_form.html", {"form": form, "contact": contact, "lines": lines})


# Suppression list


@login_required
@permission_required("incidents.view_suppression", raise_exception=True)
def suppression_list(request: HttpRequest) -> HttpResponse:
    entries = Suppression.objects.all()
    q = request.GET.get("q", "").strip()
    reason = request.GET.get("reason", "")
    if q:
        entries = entries.filter(email__icontains=q.lower())
    if reason in Suppression.Reason.values:
        entries = entries.filter(reason=reason)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    counts = dict(Suppression.objects.values_list("reason").annotate(n=Count("id")).order_by())
    ctx = {
        "page": page,
        "q": q,
        "reason": reason,
        "reasons": [(value, label, counts.get(value, 0)) for value, label in Suppression.Reason.choices],
        "form": SuppressionForm(),
        "upload_form": SuppressionUploadForm(),
        "imports": Import.objects.filter(kind=Import.Kind.SUPPRESSIONS)[:5],
    }
    return render(request, "incidents/suppressions.html", ctx)


@login_required
@permission_required("incidents.add_suppression", raise_exception=True)
@require_POST
def suppression_add(request: HttpRequest) -> HttpResponse:
    form = SuppressionForm(request.POST)
    if form.is_valid():
        suppression_list_add(
            email=form.cleaned_data["email"],
            reason=form.cleaned_data["reason"],
            source=form.cleaned_data["source"] or f"added by {request.user.get_username()}",
            by=request.user,
        )
        messages.success(request, f"{form.cleaned_data['email']} will never be emailed.")
    else:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return redirect("incidents:suppressions")


@login_required
@permission_required("incidents.add_suppression", raise_exception=True)
@require_POST
def suppression_upload(request: HttpRequest) -> HttpResponse:
    form = SuppressionUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV file to upload.")
        return redirect("incidents:suppressions")
    imp = imports.import_create(
        kind=Import.Kind.SUPPRESSIONS,
        uploaded=form.cleaned_data["file"],
        mapping={"reason": form.cleaned_data["reason"]},
        user=request.user,
    )
    return redirect(imp)


@login_required
@permission_required("incidents.add_import", raise_exception=True)
@require_POST
def import_discard(request: HttpRequest, import_id: int) -> HttpResponse:
    imp = get_object_or_404(Import, id=import_id)
    if imp.incident_id is not None:
        editable_incident(request, imp.incident_id)
    if imports.import_discard(imp=imp, user=request.user):
        messages.success(request, f"{imp.original_name} discarded: nothing from it was kept.")
    else:
        messages.error(request, "This import had already finished: there is nothing to discard.")
    return redirect(imp.incident if imp.incident_id else "incidents:contacts")
