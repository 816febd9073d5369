"""The privacy page for administrators: find a person, download what is held about them, erase them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from incidents.auditlog.access import admin_required

from . import services
from .forms import EraseForm, PersonForm
from .models import Erasure


def _page(request: HttpRequest, form: PersonForm, *, status: int = 200, **extra) -> HttpResponse:
    context = {"form": form, "erasures": Erasure.objects.all()[:20], **extra}
    return render(request, "privacy/person.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required
def privacy_person(request: HttpRequest) -> HttpResponse:
    # The address travels in a POST body, never in a URL that access logs would keep.
    if request.method != "POST":
        return _page(request, PersonForm())
    form = PersonForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    email = services.email_normalise(form.cleaned_data["email"])
    return _page(
        request,
        form,
        email=email,
        summary=services.person_summary(email=email),
        erased=services.is_erased(email),
        erase_form=EraseForm(initial={"email": email}),
    )


@require_POST
@admin_required
def privacy_export(request: HttpRequest) -> HttpResponse:
    form = PersonForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    email = form.cleaned_data["email"]
    body = services.person_export_json(email=email, user=request.user)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    name = f"person-{services.email_hash(email)[:12]}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@admin_required
def privacy_erase(request: HttpRequest) -> HttpResponse:
    form = EraseForm(request.POST)
    if not form.is_valid():
        email = request.POST.get("email", "")
        return _page(
            request,
            PersonForm(initial={"email": email}),
            email=services.email_normalise(email),
            summary=services.person_summary(email=email),
            erased=services.is_erased(email),
            erase_form=form,
            status=400,
        )
    erasure = services.person_erase(
        email=form.cleaned_data["email"], user=request.user, reason=form.cleaned_data["reason"]
    )
    removed = sum(erasure.counts.values())
    messages.success(request, f"Erased: {removed} rows and files removed or anonymised; only a hash is kept.")
    return redirect("privacy:person")
