"""Staff pages of sending: start, pause, resume, progress, review of uncertain deliveries, test sends and the outbox."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apologies.campaigns.access import campaign_act, campaign_or_404, edit_required, send_required, view_required
from apologies.campaigns.models import CampaignError, Recipient
from apologies.sending import services as sending
from apologies.sending.forms import PauseForm
from apologies.sending.models import CapturedEmail, Delivery


@login_required
@view_required
def campaign_progress(request: HttpRequest, campaign_id: int) -> JsonResponse:
    return JsonResponse(sending.campaign_progress(campaign=campaign_or_404(campaign_id)))


@login_required
@send_required
@require_POST
def campaign_start(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    return campaign_act(
        request, campaign, lambda: sending.campaign_start(campaign=campaign, user=request.user), "Sending started."
    )


@login_required
@send_required
@require_POST
def campaign_pause(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    form = PauseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return campaign_act(
        request,
        campaign,
        lambda: sending.campaign_pause(campaign=campaign, user=request.user, reason=reason),
        "Paused: at most the batch already handed to the ESP goes out.",
    )


@login_required
@send_required
@require_POST
def campaign_resume(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    return campaign_act(
        request, campaign, lambda: sending.campaign_resume(campaign=campaign, user=request.user), "Resumed."
    )


@login_required
@send_required
@require_POST
def delivery_resolve(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.select_related("campaign"), id=delivery_id)
    sent = request.POST.get("outcome") == "sent"
    return campaign_act(
        request,
        delivery.campaign,
        lambda: sending.delivery_resolve(delivery=delivery, sent=sent, user=request.user),
        f"{delivery.email}: {'marked sent' if sent else 'queued again'}.",
    )


@login_required
@edit_required
@require_POST
def recipient_test_send(request: HttpRequest, recipient_id: int) -> HttpResponse:
    recipient = get_object_or_404(Recipient.objects.select_related("campaign__incident", "contact"), id=recipient_id)
    try:
        n = sending.test_send(campaign=recipient.campaign, recipient=recipient, user=request.user)
        seeds = "seed address" if n == 1 else "seed addresses"
        messages.success(request, f"Test sent to {n} {seeds}, marked TEST. It does not count as an apology.")
    except CampaignError as e:
        messages.error(request, str(e))
    return redirect("apologies:preview", recipient.id)


@login_required
@view_required
def outbox(request: HttpRequest) -> HttpResponse:
    emails = CapturedEmail.objects.all()
    q = request.GET.get("q", "").strip()
    if q:
        emails = emails.filter(Q(to__icontains=q) | Q(subject__icontains=q))
    page = Paginator(emails, 50).get_page(request.GET.get("page"))
    return render(request, "apologies/outbox.html", {"page": page, "q": q, "query": f"q={q}"})


@login_required
@view_required
def outbox_email(request: HttpRequest, email_id: int) -> HttpResponse:
    email = get_object_or_404(CapturedEmail, id=email_id)
    return render(request, "apologies/outbox_email.html", {"email": email})
