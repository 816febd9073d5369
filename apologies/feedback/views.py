"""Staff pages of replies: the inbox per campaign, the replies no campaign claims, reclassifying and logging."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apologies.campaigns.access import campaign_or_404, edit_required, view_required
from apologies.feedback import classify
from apologies.feedback import services as feedback
from apologies.feedback.forms import ReplyLogForm
from apologies.feedback.models import Reply


@login_required
@view_required
def campaign_replies(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    replies_qs = campaign.replies.select_related("delivery", "kind_set_by")
    kind = request.GET.get("kind", "")
    if kind in Reply.Kind.values:
        replies_qs = replies_qs.filter(kind=kind)
    page = Paginator(replies_qs, 30).get_page(request.GET.get("page"))
    rows = [(r, classify.strip_quoted(r.text), classify.safe_html(r.html) if r.html else "") for r in page]
    ctx = {
        "campaign": campaign,
        "page": page,
        "rows": rows,
        "kind": kind,
        "kinds": Reply.Kind.choices,
        "counts": dict(campaign.replies.values_list("kind").annotate(n=Count("id")).order_by()),
        "log_form": ReplyLogForm(),
        "query": f"kind={kind}",
    }
    return render(request, "apologies/replies.html", ctx)


@login_required
@view_required
def replies_unmatched(request: HttpRequest) -> HttpResponse:
    page = Paginator(feedback.replies_unmatched(), 30).get_page(request.GET.get("page"))
    leads = feedback.recipient_campaigns(emails={r.from_email for r in page})
    rows = [(r, classify.strip_quoted(r.text), leads.get(r.from_email, [])) for r in page]
    return render(request, "apologies/replies_unmatched.html", {"page": page, "rows": rows, "query": ""})


@login_required
@view_required
def reply_detail(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(
        Reply.objects.select_related("campaign__incident", "delivery", "kind_set_by"), id=reply_id
    )
    own_words = classify.strip_quoted(reply.text)
    leads = [] if reply.campaign_id else feedback.recipient_campaigns(emails=[reply.from_email]).get(reply.from_email)
    ctx = {
        "r": reply,
        "own_words": own_words,
        # The quoted original and signature the own words leave out, for a reply that makes sense only with them.
        "whole_text": reply.text if reply.text.strip() != own_words.strip() else "",
        "html": classify.safe_html(reply.html) if reply.html else "",
        "kinds": Reply.Kind.choices,
        "whole_reply_shown": True,
        "leads": leads or [],
    }
    return render(request, "apologies/reply_detail.html", ctx)


@login_required
@edit_required
@require_POST
def reply_reclassify(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(Reply.objects.select_related("campaign"), id=reply_id)
    kind = request.POST.get("kind", "")
    if kind in Reply.Kind.values:
        feedback.reply_reclassify(reply=reply, kind=kind, user=request.user)
        messages.success(request, f"Reply from {reply.from_email or 'someone'} is now: {reply.get_kind_display()}.")
    if reply.campaign_id is None:
        return redirect("apologies:reply_detail", reply.id)
    return redirect("apologies:replies", reply.campaign_id)


@login_required
@edit_required
@require_POST
def reply_log(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    form = ReplyLogForm(request.POST)
    if form.is_valid():
        feedback.reply_log(campaign=campaign, user=request.user, **form.cleaned_data)
        messages.success(request, "Reply logged.")
    else:
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect("apologies:replies", campaign.id)
