"""API endpoints of campaigns: list an incident's campaigns, read a campaign's status and its results."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from apologies.api import access
from apologies.campaigns.models import Campaign, CampaignError
from apologies.letters.providers.services import provider_letters_start
from apologies.results import services as outcomes
from apologies.results.control import control_results
from apologies.sending import services as sending

router = Router(tags=["campaigns"])


class CampaignBrief(Schema):
    id: int
    incident_id: int
    name: str
    status: str
    approved_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class CampaignStatus(CampaignBrief):
    status_label: str
    paused_reason: str
    author: str
    approved_by: str | None
    audience: int
    progress: dict


def brief(c: Campaign) -> dict:
    return {f: getattr(c, f) for f in CampaignBrief.model_fields}


@router.get("/campaigns", response=list[CampaignBrief])
def campaign_list(request: HttpRequest, incident_id: int | None = None):
    """Campaigns, newest first; `incident_id` narrows to one incident's."""
    access.permission_needed(request, "apologies.view_campaign")
    campaigns = Campaign.objects.all()
    if incident_id is not None:
        campaigns = campaigns.filter(incident_id=incident_id)
    return [brief(c) for c in campaigns[:500]]


@router.get("/campaigns/{campaign_id}", response=CampaignStatus)
def campaign_status(request: HttpRequest, campaign_id: int):
    """Where a campaign stands: its status, why it paused, and how far sending got (what waits for which hour)."""
    access.permission_needed(request, "apologies.view_campaign")
    c = get_object_or_404(Campaign.objects.select_related("author", "approved_by"), id=campaign_id)
    return {
        **brief(c),
        "status_label": c.get_status_display(),
        "paused_reason": c.paused_reason,
        "author": c.author.get_username(),
        "approved_by": c.approved_by.get_username() if c.approved_by else None,
        "audience": c.recipients.count(),
        "progress": sending.campaign_progress(campaign=c),
    }


@router.get("/campaigns/{campaign_id}/results", response=dict)
def campaign_results(request: HttpRequest, campaign_id: int):
    """The campaign's funnel, as on its results page, and apologised vs control when it has a control group."""
    access.permission_needed(request, "apologies.view_campaign")
    c = get_object_or_404(Campaign.objects.select_related("incident"), id=campaign_id)
    results = outcomes.results_for(campaigns=[c], affected=c.incident.affected.count())
    return {**results, "control_group": control_results(campaign=c)}


@router.post("/campaigns/{campaign_id}/letters/provider", response={202: dict})
def campaign_letters_provider(request: HttpRequest, campaign_id: int):
    """Hand the campaign's letters not yet printed to the print-and-mail provider (AMENDS_LETTER_PROVIDER)."""
    access.permission_needed(request, "apologies.send_campaign")
    c = get_object_or_404(Campaign, id=campaign_id)
    try:
        queued = provider_letters_start(campaign=c, user=request.user)
    except CampaignError as e:
        raise HttpError(409, str(e)) from e
    return Status(202, {"queued": queued})
