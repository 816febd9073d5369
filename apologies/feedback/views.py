"""Staff pages of replies: the inbox per campaign, the replies no campaign claims (attached to one, dismissed or
restored by staff), reclassifying and logging."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apologies.campaigns.access import campaign_or_404, edit_required, view_required
from apologies.feedback import classify
from apologies.feedback import services as feedback
from apologies.feedback.forms import ReplyAttachForm, ReplyLogForm
from apologies.feedback.models import Reply, ReplyError


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
    # ?dismissed=1: the ones staff dismissed, to find one dismissed by mistake.
    dismissed = request.GET.get("dismissed") == "1"
    replies_qs = feedback.replies_dismissed() if dismissed else feedback.replies_unmatched()
    page = Paginator(replies_qs, 30).get_page(request.GET.get("page"))
    leads = feedback.recipient_campaigns(emails={r.from_email for r in page})
    rows = [(r, classify.strip_quoted(r.text), leads.get(r.from_email, [])) for r in page]
    ctx = {
        "page": page,
        "rows": rows,
        "dismissed": dismissed,
        "dismissed_count": None if dismissed else feedback.replies_dismissed().count(),
        "query": "dismissed=1" if dismissed else "",
    }
    return render(request, "apologies/replies_unmatched.html", ctx)


@login_required
@view_required
def reply_detail(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(
        Reply.objects.select_related("campaign__incident", "delivery", "kind_set_by", "dismissed_by"), id=reply_id
    )
    own_words = classify.strip_quoted(reply.text)
    leads = [] if reply.campaign_id else feedback.recipient_campaigns(emails=[reply.from_email]).get(reply.from_email)
    attach_form = None
    if reply.campaign_id is None and request.user.has_perm("apologies.change_campaign"):
        attach_form = ReplyAttachForm(leads=[c.id for c in leads or []], initial={"email": reply.from_email})
    ctx = {
        "r": reply,
        "own_words": own_words,
        # The quoted original and signature the own words leave out, for a reply that makes sense only with them.
        "whole_text": reply.text if reply.text.strip() != own_words.strip() else "",
        "html": classify.safe_html(reply.html) if reply.html else "",
        "kinds": Reply.Kind.choices,
        "whole_reply_shown": True,
        "leads": leads or [],
        "attach_form": attach_form,
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


@login_required
@edit_required
@require_POST
def reply_attach(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(Reply, id=reply_id)
    leads = feedback.recipient_campaigns(emails=[reply.from_email]).get(reply.from_email, [])
    form = ReplyAttachForm(request.POST, leads=[c.id for c in leads])
    if not form.is_valid():
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
        return redirect("apologies:reply_detail", reply.id)
    campaign = form.cleaned_data["campaign"]
    try:
        feedback.reply_attach(reply=reply, campaign=campaign, email=form.cleaned_data["email"], user=request.user)
    except ReplyError as e:
        messages.error(request, str(e))
        return redirect("apologies:reply_detail", reply.id)
    if reply.delivery:
        messages.success(request, f"Reply attached to {campaign.name}, to the apology to {reply.delivery.email}.")
    else:
        # Said plainly: the reply counts for the campaign but for nobody's apology in it.
        who = form.cleaned_data["email"] or reply.from_email or "an unknown address"
        messages.success(request, f"Reply attached to {campaign.name} but to no apology in it: it has none to {who}.")
    return redirect("apologies:replies", campaign.id)


@login_required
@edit_required
@require_POST
def reply_dismiss(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(Reply, id=reply_id)
    try:
        feedback.reply_dismiss(reply=reply, user=request.user)
    except ReplyError as e:
        messages.error(request, str(e))
        return redirect("apologies:reply_detail", reply.id)
    messages.success(request, f"Reply from {reply.from_email or 'someone'} dismissed; its page can undo that.")
    if request.POST.get("back") == "list":
        # Back to the same page of the list, to go on sorting it.
        page = request.POST.get("page", "")
        return redirect(reverse("apologies:replies_unmatched") + (f"?page={page}" if page.isdigit() else ""))
    return redirect("apologies:reply_detail", reply.id)


@login_required
@edit_required
@require_POST
def reply_restore(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(Reply, id=reply_id)
    try:
        feedback.reply_restore(reply=reply, user=request.user)
    except ReplyError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Reply from {reply.from_email or 'someone'} is back among the unmatched replies.")
    return redirect("apologies:reply_detail", reply.id)
