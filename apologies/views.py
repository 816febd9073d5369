from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.exports import csv_safe
from incidents.models import Incident

from . import mail, replies, services, templating
from .forms import (
    CampaignCreateForm,
    CampaignSettingsForm,
    CountryPolicyForm,
    OverrideForm,
    PauseForm,
    RejectForm,
    ReplyLogForm,
    TemplateForm,
    VariantForm,
)
from .models import Campaign, CampaignTemplate, CapturedEmail, CountryPolicy, Delivery, Recipient, Reply

view_required = permission_required("apologies.view_campaign", raise_exception=True)
edit_required = permission_required("apologies.change_campaign", raise_exception=True)
send_required = permission_required("apologies.send_campaign", raise_exception=True)
approve_required = permission_required("apologies.approve_campaign", raise_exception=True)


def _campaign(campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("incident", "author", "approved_by"), id=campaign_id)


def _act(request: HttpRequest, campaign: Campaign, action, success: str) -> HttpResponse:
    try:
        action()
    except services.CampaignError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, success)
    return redirect(campaign)


@login_required
@permission_required("apologies.add_campaign", raise_exception=True)
def campaign_create(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident, id=incident_id)
    form = CampaignCreateForm(request.POST or None, incident=incident)
    if request.method == "POST" and form.is_valid():
        campaign = services.campaign_create(
            incident=incident,
            name=form.cleaned_data["name"],
            author=request.user,
            tiers=form.cleaned_data["tiers"],
            states=form.cleaned_data["states"],
            allow_follow_up=form.cleaned_data["allow_follow_up"],
        )
        messages.success(request, "Campaign created with the default apology. Read it, adjust it, then submit it.")
        return redirect(campaign)
    return render(request, "apologies/create.html", {"form": form, "incident": incident})


@login_required
@view_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    ctx = {
        "campaign": campaign,
        "incident": campaign.incident,
        "counts": services.campaign_counts(campaign=campaign),
        "progress": services.campaign_progress(campaign=campaign),
        "audit": campaign.audit.select_related("user")[:50],
        "review": campaign.deliveries.filter(status=Delivery.Status.REVIEW)[:50],
        "failed": campaign.deliveries.filter(status=Delivery.Status.FAILED)[:20],
        "is_author": request.user.pk == campaign.author_id,
        "reject_form": RejectForm(),
        "pause_form": PauseForm(),
        "stale": campaign.status == Campaign.Status.APPROVED and campaign.approval_is_stale(),
        "audience": services.audience_label(campaign),
        "letters_waiting": campaign.deliveries.filter(
            channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED
        ).count(),
    }
    return render(request, "apologies/detail.html", ctx)


@login_required
@view_required
def campaign_progress(request: HttpRequest, campaign_id: int) -> JsonResponse:
    return JsonResponse(services.campaign_progress(campaign=_campaign(campaign_id)))


@login_required
@edit_required
def campaign_settings(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    if not campaign.is_editable:
        messages.error(request, "Sending has started: the campaign can no longer be changed.")
        return redirect(campaign)
    form = CampaignSettingsForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        form.save()
        if form.has_changed():
            services.campaign_edited(campaign=campaign, user=request.user, what=", ".join(form.changed_data))
        if form.audience_changed():
            services.campaign_plan(campaign=campaign)
        messages.success(request, "Saved.")
        return redirect(campaign)
    return render(request, "apologies/settings.html", {"form": form, "campaign": campaign})


@login_required
@edit_required
@require_POST
def campaign_replan(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)

    def replan():
        services.campaign_plan(campaign=campaign)
        services.campaign_edited(campaign=campaign, user=request.user, what="audience planned again")

    return _act(request, campaign, replan, "Planned again from the current ledger, contacts and suppression list.")


@login_required
@edit_required
@require_POST
def campaign_submit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    return _act(
        request,
        campaign,
        lambda: services.campaign_submit(campaign=campaign, user=request.user),
        "Submitted: an approver other than you has to approve it.",
    )


@login_required
@approve_required
@require_POST
def campaign_approve(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    return _act(request, campaign, lambda: services.campaign_approve(campaign=campaign, user=request.user), "Approved.")


@login_required
@approve_required
@require_POST
def campaign_reject(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what needs to change.")
        return redirect(campaign)
    return _act(
        request,
        campaign,
        lambda: services.campaign_reject(campaign=campaign, user=request.user, reason=form.cleaned_data["reason"]),
        "Sent back to draft.",
    )


@login_required
@send_required
@require_POST
def campaign_start(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    return _act(
        request, campaign, lambda: services.campaign_start(campaign=campaign, user=request.user), "Sending started."
    )


@login_required
@send_required
@require_POST
def campaign_pause(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = PauseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _act(
        request,
        campaign,
        lambda: services.campaign_pause(campaign=campaign, user=request.user, reason=reason),
        "Paused: at most the batch already handed to the ESP goes out.",
    )


@login_required
@send_required
@require_POST
def campaign_resume(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    return _act(request, campaign, lambda: services.campaign_resume(campaign=campaign, user=request.user), "Resumed.")


@login_required
@send_required
@require_POST
def campaign_cancel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    return _act(
        request, campaign, lambda: services.campaign_cancel(campaign=campaign, user=request.user), "Cancelled for good."
    )


@login_required
@send_required
@require_POST
def delivery_resolve(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.select_related("campaign"), id=delivery_id)
    sent = request.POST.get("outcome") == "sent"
    return _act(
        request,
        delivery.campaign,
        lambda: services.delivery_resolve(delivery=delivery, sent=sent, user=request.user),
        f"{delivery.email}: {'marked sent' if sent else 'queued again'}.",
    )


# Templates


@login_required
@view_required
def campaign_templates(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    templates = list(campaign.templates.all())
    labels = campaign.incident.tier_labels()
    selected = next((t for t in templates if str(t.id) == request.GET.get("t")), templates[0])
    form = TemplateForm(instance=selected)
    ctx = {
        "campaign": campaign,
        "templates": [(t, _variant_label(t, labels)) for t in templates],
        "selected": selected,
        "selected_label": _variant_label(selected, labels),
        "form": form,
        "variant_form": VariantForm(campaign=campaign),
        "placeholders": templating.PLACEHOLDERS.items(),
    }
    return render(request, "apologies/templates.html", ctx)


def _variant_label(template: CampaignTemplate, labels: list[str]) -> str:
    language = template.language or "default language"
    tier = "any tier" if template.tier == CampaignTemplate.ANY_TIER else f"tier {labels[template.tier]}"
    return f"{language}, {tier}"


@login_required
@edit_required
@require_POST
def template_save(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_object_or_404(CampaignTemplate.objects.select_related("campaign__incident"), id=template_id)
    campaign = template.campaign
    if not campaign.is_editable:
        messages.error(request, "Sending has started: the words can no longer be changed.")
        return redirect(campaign)
    form = TemplateForm(request.POST, instance=template)
    if form.is_valid():
        services.template_save(template=form.save(commit=False), user=request.user)
        messages.success(request, "Saved.")
        return redirect(f"{_templates_url(campaign)}?t={template.id}")
    templates = list(campaign.templates.all())
    labels = campaign.incident.tier_labels()
    ctx = {
        "campaign": campaign,
        "templates": [(t, _variant_label(t, labels)) for t in templates],
        "selected": template,
        "selected_label": _variant_label(template, labels),
        "form": form,
        "variant_form": VariantForm(campaign=campaign),
        "placeholders": templating.PLACEHOLDERS.items(),
    }
    return render(request, "apologies/templates.html", ctx, status=400)


def _templates_url(campaign: Campaign) -> str:
    from django.urls import reverse

    return reverse("apologies:templates", args=[campaign.id])


@login_required
@edit_required
@require_POST
def template_add(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = VariantForm(request.POST, campaign=campaign)
    if not campaign.is_editable or not form.is_valid():
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs) or "Not now.")
        return redirect(_templates_url(campaign))
    base = campaign.templates.get(language="", tier=CampaignTemplate.ANY_TIER)
    template = CampaignTemplate.objects.create(
        campaign=campaign,
        language=form.cleaned_data["language"],
        tier=form.cleaned_data["tier"],
        subject=base.subject,
        text_body=base.text_body,
        html_body=base.html_body,
        letter_body=base.letter_body,
        invitation=base.invitation,
    )
    services.campaign_edited(campaign=campaign, user=request.user, what=f"variant {template} added")
    return redirect(f"{_templates_url(campaign)}?t={template.id}")


# People


RECIPIENT_SORTS = {"messages": "-messages", "email": "email", "tier": "-tier"}


@login_required
@view_required
def campaign_recipients(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    rows = campaign.recipients.select_related("contact")
    q = request.GET.get("q", "").strip()
    channel = request.GET.get("channel", "")
    reason = request.GET.get("reason", "")
    tier = request.GET.get("tier", "")
    if q:
        rows = rows.filter(Q(email__icontains=q.lower()) | Q(short_code__icontains=q.upper()))
    if channel in Recipient.Channel.values:
        rows = rows.filter(channel=channel)
    if reason in Recipient.Reason.values:
        rows = rows.filter(reason=reason)
    if tier.isdigit():
        rows = rows.filter(tier=int(tier))
    rows = rows.order_by(RECIPIENT_SORTS.get(request.GET.get("sort", ""), "-messages"), "email")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {
        "campaign": campaign,
        "page": page,
        "q": q,
        "channel": channel,
        "reason": reason,
        "tier": tier,
        "channels": Recipient.Channel.choices,
        "reasons": Recipient.Reason.choices,
        "tiers": list(enumerate(campaign.incident.tier_labels())),
        "labels": campaign.incident.tier_labels(),
        "query": query.urlencode(),
    }
    return render(request, "apologies/recipients.html", ctx)


@login_required
@view_required
def campaign_recipients_csv(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    campaign = _campaign(campaign_id)
    labels = campaign.incident.tier_labels()
    columns = [
        "email",
        "name",
        "country",
        "messages",
        "tier",
        "state",
        "channel",
        "reason",
        "detail",
        "invite",
        "gift",
        "short_code",
    ]

    def rows():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        for r in campaign.recipients.select_related("contact").order_by("-messages", "email").iterator(chunk_size=2000):
            name = r.contact.name if r.contact else ""
            country = r.contact.country if r.contact else ""
            writer.writerow(
                [csv_safe(v) for v in (r.email, name, country)]
                + [r.messages, labels[r.tier] if r.tier < len(labels) else r.tier, r.state, r.channel, r.reason]
                + [csv_safe(r.detail), "yes" if r.invite_allowed else "no", "yes" if r.gift else "no", r.short_code]
            )
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.id}-channels.csv"'
    return response


@login_required
@view_required
def recipient_preview(request: HttpRequest, recipient_id: int) -> HttpResponse:
    recipient = get_object_or_404(Recipient.objects.select_related("campaign__incident", "contact"), id=recipient_id)
    campaign = recipient.campaign
    template = services.template_for(campaign, recipient)
    rendered = mail.render_for(campaign, recipient, template)
    delivery = recipient.deliveries.first()
    headers = mail.headers_for(delivery.id) if delivery else {}
    ctx = {
        "campaign": campaign,
        "recipient": recipient,
        "template": template,
        "rendered": rendered,
        "reply_to": headers.get("Reply-To", "set when sending starts (it names the delivery)"),
        "list_unsubscribe": headers.get("List-Unsubscribe", "set when sending starts (one-click, RFC 8058)"),
        "override_form": OverrideForm(initial={"channel": recipient.channel}),
        "resubscribe_url": mail.resubscribe_url(recipient) if recipient.invite_allowed else "",
    }
    return render(request, "apologies/preview.html", ctx)


@login_required
@edit_required
@require_POST
def recipient_override(request: HttpRequest, recipient_id: int) -> HttpResponse:
    recipient = get_object_or_404(Recipient.objects.select_related("campaign__incident", "contact"), id=recipient_id)
    form = OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.recipient_override(
                recipient=recipient,
                channel=form.cleaned_data["channel"],
                note=form.cleaned_data["note"],
                user=request.user,
            )
            messages.success(request, f"{recipient.email} now gets: {recipient.get_channel_display().lower()}.")
        except services.CampaignError as e:
            messages.error(request, str(e))
    return redirect("apologies:preview", recipient.id)


@login_required
@edit_required
@require_POST
def recipient_test_send(request: HttpRequest, recipient_id: int) -> HttpResponse:
    recipient = get_object_or_404(Recipient.objects.select_related("campaign__incident", "contact"), id=recipient_id)
    try:
        n = services.test_send(campaign=recipient.campaign, recipient=recipient, user=request.user)
        messages.success(request, f"Test sent to {n} seed addresses, marked TEST. It does not count as an apology.")
    except services.CampaignError as e:
        messages.error(request, str(e))
    return redirect("apologies:preview", recipient.id)


# Outbox and country policies


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


@login_required
@permission_required("apologies.view_countrypolicy", raise_exception=True)
def policies(request: HttpRequest) -> HttpResponse:
    services.policy_defaults_ensure()
    form = CountryPolicyForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("apologies.change_countrypolicy"):
            return HttpResponse(status=403)
        if form.is_valid():
            CountryPolicy.objects.update_or_create(
                country=form.cleaned_data["country"],
                defaults={"invite_allowed": form.cleaned_data["invite_allowed"], "note": form.cleaned_data["note"]},
            )
            messages.success(
                request, f"Policy for {form.cleaned_data['country']} saved. Plan campaigns again to apply it."
            )
            return redirect("apologies:policies")
    return render(request, "apologies/policies.html", {"form": form, "policies": CountryPolicy.objects.all()})


# Public: the unsubscribe link every apology email carries (List-Unsubscribe, RFC 8058).


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what a click would do; POST (the one-click header's, no cookies) unsubscribes at once."""
    delivery = services.delivery_for_unsubscribe_token(token)
    if delivery is None:
        return render(request, "apologies/public/unsubscribe_invalid.html", status=400)
    masked = services.mask_email(delivery.email)
    if request.method == "POST":
        services.unsubscribe(delivery=delivery, source="one-click" if "List-Unsubscribe" in request.POST else "link")
        return render(request, "apologies/public/unsubscribed.html", {"masked": masked})
    return render(request, "apologies/public/unsubscribe.html", {"masked": masked, "token": token})


# Replies and results


@login_required
@view_required
def campaign_replies(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    replies_qs = campaign.replies.select_related("delivery", "kind_set_by")
    kind = request.GET.get("kind", "")
    if kind in Reply.Kind.values:
        replies_qs = replies_qs.filter(kind=kind)
    page = Paginator(replies_qs, 30).get_page(request.GET.get("page"))
    rows = [(r, replies.strip_quoted(r.text), replies.safe_html(r.html) if r.html else "") for r in page]
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
@edit_required
@require_POST
def reply_reclassify(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = get_object_or_404(Reply.objects.select_related("campaign"), id=reply_id)
    kind = request.POST.get("kind", "")
    if kind in Reply.Kind.values:
        services.reply_reclassify(reply=reply, kind=kind, user=request.user)
        messages.success(request, f"Reply from {reply.from_email or 'someone'} is now: {reply.get_kind_display()}.")
    return redirect("apologies:replies", reply.campaign_id)


@login_required
@edit_required
@require_POST
def reply_log(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = ReplyLogForm(request.POST)
    if form.is_valid():
        services.reply_log(campaign=campaign, user=request.user, **form.cleaned_data)
        messages.success(request, "Reply logged.")
    else:
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect("apologies:replies", campaign.id)


@login_required
@view_required
def campaign_results(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    results = services.results_for(campaigns=[campaign], affected=campaign.incident.affected.count())
    return render(
        request, "apologies/results.html", {"campaign": campaign, "incident": campaign.incident, "r": results}
    )


@login_required
@view_required
def incident_results(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident, id=incident_id)
    campaigns = list(incident.campaigns.all())
    results = services.results_for(campaigns=campaigns, affected=incident.affected.count())
    return render(request, "apologies/results.html", {"incident": incident, "campaigns": campaigns, "r": results})


@login_required
@view_required
def campaign_results_csv(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    campaign = _campaign(campaign_id)

    def rows():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(services.RESULT_COLUMNS)
        for row in services.results_rows(campaign=campaign):
            writer.writerow([csv_safe(row[c]) if isinstance(row[c], str) else row[c] for c in services.RESULT_COLUMNS])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.id}-results.csv"'
    return response
