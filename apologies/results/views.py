"""Staff pages of results per campaign and per incident, and the per-person CSV."""

from __future__ import annotations

import csv
import io

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from apologies.campaigns.access import campaign_or_404, view_required
from apologies.results import services as outcomes
from apologies.results.control import control_results
from incidents.exports import csv_safe
from incidents.models import Incident


@login_required
@view_required
def campaign_results(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    results = outcomes.results_for(campaigns=[campaign], affected=campaign.incident.affected.count())
    context = {"campaign": campaign, "incident": campaign.incident, "r": results}
    return render(request, "apologies/results.html", {**context, "control": control_results(campaign=campaign)})


@login_required
@view_required
def incident_results(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident, id=incident_id)
    campaigns = list(incident.campaigns.all())
    results = outcomes.results_for(campaigns=campaigns, affected=incident.affected.count())
    return render(request, "apologies/results.html", {"incident": incident, "campaigns": campaigns, "r": results})


@login_required
@view_required
def campaign_results_csv(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    campaign = campaign_or_404(campaign_id)

    def rows():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(outcomes.RESULT_COLUMNS)
        for row in outcomes.results_rows(campaign=campaign):
            writer.writerow([csv_safe(row[c]) if isinstance(row[c], str) else row[c] for c in outcomes.RESULT_COLUMNS])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.id}-results.csv"'
    return response
