"""The staff member's own settings page: their time zone."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apologies.staff.forms import TimeZoneForm
from apologies.staff.services import staff_zone, staff_zone_save


@login_required
def time_zone(request: HttpRequest) -> HttpResponse:
    form = TimeZoneForm(request.POST or None, initial={"time_zone": staff_zone(user=request.user)})
    if request.method == "POST" and form.is_valid():
        staff_zone_save(user=request.user, time_zone=form.cleaned_data["time_zone"])
        messages.success(request, f"Times are now shown in {form.cleaned_data['time_zone']}.")
        return redirect("apologies:time_zone")
    return render(request, "apologies/time_zone.html", {"form": form})
