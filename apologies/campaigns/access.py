"""Who may do what with a campaign (permission decorators), its lookup, and running an action with a message."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

from apologies.campaigns.models import Campaign, CampaignError

view_required = permission_required("apologies.view_campaign", raise_exception=True)


edit_required = permission_required("apologies.change_campaign", raise_exception=True)


send_required = permission_required("apologies.send_campaign", raise_exception=True)


approve_required = permission_required("apologies.approve_campaign", raise_exception=True)


def campaign_or_404(campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("incident", "author", "approved_by"), id=campaign_id)


def campaign_act(request: HttpRequest, campaign: Campaign, action, success: str) -> HttpResponse:
    try:
        action()
    except CampaignError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, success)
    return redirect(campaign)
