"""The watch page: events per minute per workflow, the rules, the ESP switches and the last alerts (dismissable)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from . import services, services_alerts, windows
from .forms import DismissForm, RuleForm, SwitchForm
from .models import WatchAlert, WatchedEsp, WatchRule, WorkflowMinute
from .rules import rules_current

MINUTES_SHOWN = 15


@login_required
@permission_required("incidents.view_watchalert", raise_exception=True)
@require_GET
def watch_state(request: HttpRequest) -> HttpResponse:
    return state_render(request)


def state_render(request: HttpRequest, *, refused: RuleForm | None = None) -> HttpResponse:
    """The watch page; `refused` is a rule's form as typed, shown with its errors beside its fields."""
    latest = WorkflowMinute.objects.aggregate(m=Max("minute"))["m"]
    minutes, table = [], []
    if latest is not None:
        minutes = [latest - timedelta(minutes=i) for i in range(MINUTES_SHOWN - 1, -1, -1)]
        counts: dict[tuple[str, str], dict] = defaultdict(dict)
        rows = WorkflowMinute.objects.filter(minute__gte=minutes[0]).values(
            "esp", "workflow", "minute", "events", "messages"
        )
        for row in rows:
            counts[(row["esp"], row["workflow"])][row["minute"]] = (row["events"], row["messages"])
        usual: dict[str, dict] = {}
        for esp, _workflow in counts:
            if esp not in usual:
                try:
                    usual[esp] = windows.baselines_all(esp=esp)
                except Exception:  # noqa: BLE001 - the page shows what it can without Redis
                    usual[esp] = {}
        for (esp, workflow), per in sorted(counts.items()):
            hourly = usual.get(esp, {}).get(workflow)
            table.append(
                {
                    "esp": esp,
                    "workflow": workflow,
                    "counts": [per.get(m, (0, 0)) for m in minutes],
                    "usual_hourly": round(hourly[0]) if hourly else None,
                }
            )
    switches = {s.esp: s for s in WatchedEsp.objects.all()}
    esps = [
        {
            "esp": esp,
            "name": name,
            "enabled": bool(switches.get(esp) and switches[esp].enabled),
            "url": request.build_absolute_uri(reverse(f"watch:endpoint_{esp}")),
        }
        for esp, name in services.ESPS.items()
    ]
    rules = [
        (
            rule,
            refused
            if refused is not None and refused.prefix == rule.kind
            else RuleForm(
                initial={
                    "kind": rule.kind,
                    "enabled": rule.enabled,
                    "threshold": rule.threshold,
                    "minimum": rule.minimum,
                },
                prefix=rule.kind,
            ),
        )
        for rule in rules_current().values()
    ]
    alerts = WatchAlert.objects.select_related("incident", "dismissed_by")[:20]
    return render(
        request,
        "incidents/watch/state.html",
        {
            "minutes": minutes,
            "table": table,
            "esps": esps,
            "rules": rules,
            "alerts": alerts,
            "dismiss_form": DismissForm(),
            "rule_names": services_alerts.RULE_NAMES,
        },
        status=200 if refused is None else 400,
    )


@login_required
@permission_required("incidents.change_watchrule", raise_exception=True)
@require_POST
def rule_edit(request: HttpRequest, kind: str) -> HttpResponse:
    form = RuleForm(request.POST, prefix=kind)
    if form.is_valid() and form.cleaned_data["kind"] == kind:
        try:
            rule = services.rule_update(
                kind=kind,
                enabled=form.cleaned_data["enabled"],
                threshold=form.cleaned_data["threshold"],
                minimum=form.cleaned_data["minimum"],
                user=request.user,
            )
        except ValueError as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, f"Rule saved: {rule.sentence()}")
            return redirect(reverse("watch:state") + "#rules")
    elif form.is_valid():
        form.add_error(None, "This form is for another rule.")
    if kind not in dict(WatchRule.Kind.choices):
        messages.error(request, f"No rule {kind!r}.")
        return redirect(reverse("watch:state") + "#rules")
    # Shown again as typed, each error beside its value: a redirect would lose both.
    messages.error(request, "The rule was not saved: the values refused are marked below.")
    return state_render(request, refused=form)


@login_required
@permission_required("incidents.change_watchedesp", raise_exception=True)
@require_POST
def esp_switch(request: HttpRequest) -> HttpResponse:
    form = SwitchForm(request.POST)
    if form.is_valid():
        try:
            services.esp_switch(esp=form.cleaned_data["esp"], enabled=form.cleaned_data["enabled"], user=request.user)
        except ValueError as e:
            messages.error(request, str(e))
    return redirect(reverse("watch:state") + "#esps")


@login_required
@permission_required("incidents.change_watchalert", raise_exception=True)
@require_POST
def alert_dismiss(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = get_object_or_404(WatchAlert, id=alert_id)
    form = DismissForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    services_alerts.alert_dismiss(alert_id=alert.id, user=request.user, note=note)
    messages.success(
        request,
        f"Dismissed: {alert.workflow} is not an incident; its draft incident is closed. "
        "No rule was changed: to alert less often, edit the rules below.",
    )
    return redirect(reverse("watch:state") + f"#alert-{alert.id}")
