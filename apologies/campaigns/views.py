"""Staff pages of campaigns: create, detail, settings, templates, people, previews, approval, country rules."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apologies import links
from apologies.campaigns import lifecycle, planning, previews, templating, words
from apologies.campaigns.access import (
    approve_required,
    campaign_act,
    campaign_or_404,
    edit_required,
    send_required,
    view_required,
)
from apologies.campaigns.forms import (
    CampaignCreateForm,
    CampaignSettingsForm,
    CountryPolicyForm,
    OverrideForm,
    RejectForm,
    TemplateForm,
    VariantForm,
)
from apologies.campaigns.models import Campaign, CampaignError, CampaignTemplate, CountryPolicy, Recipient
from apologies.letters import services_previews as letter_previews
from apologies.sending import esp
from apologies.sending import services as sending
from apologies.sending.forms import PauseForm
from apologies.sending.models import Delivery
from incidents.exports import csv_safe
from incidents.models import Incident


@login_required
@permission_required("apologies.add_campaign", raise_exception=True)
def campaign_create(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident, id=incident_id)
    form = CampaignCreateForm(request.POST or None, incident=incident)
    if request.method == "POST" and form.is_valid():
        campaign = planning.campaign_create(
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
    campaign = campaign_or_404(campaign_id)
    ctx = {
        "campaign": campaign,
        "incident": campaign.incident,
        "counts": planning.campaign_counts(campaign=campaign),
        "progress": sending.campaign_progress(campaign=campaign),
        "audit": campaign.audit.select_related("user")[:50],
        "review": campaign.deliveries.filter(status=Delivery.Status.REVIEW)[:50],
        "failed": campaign.deliveries.filter(status=Delivery.Status.FAILED)[:20],
        "is_author": request.user.pk == campaign.author_id,
        # A paused campaign, or a completed one with letters to go out, whose approved parts changed waits for an
        # approver to approve the changes.
        "changed": lifecycle.changes_to_approve(campaign),
        "reject_form": RejectForm(),
        "pause_form": PauseForm(),
        "stale": campaign.status == Campaign.Status.APPROVED and campaign.approval_is_stale(),
        # Renewing is offered in the last quarter of an approval's life, not the moment it is given.
        "renew_soon": campaign.status == Campaign.Status.APPROVED
        and campaign.approval_is_stale(timezone.now() + timedelta(hours=campaign.approval_max_age_hours / 4)),
        "audience": planning.audience_label(campaign),
        "email_problems": lifecycle.email_words_problems(campaign) if campaign.is_editable else [],
        "language_problems": lifecycle.language_words_problems(campaign) if campaign.is_editable else [],
        "blank_problems": lifecycle.blank_words_problems(campaign) if campaign.is_editable else [],
        # Said before submitting: people planned with the incident's old tiers carry the new tiers' labels.
        "tiers_problems": lifecycle.tiers_problems(campaign) if campaign.is_editable else [],
        "already_apologised": (
            planning.recipients_already_apologised(campaign=campaign)
            if campaign.status in (Campaign.Status.DRAFT, Campaign.Status.SUBMITTED, Campaign.Status.APPROVED)
            else 0
        ),
        "letters_waiting": campaign.deliveries.filter(
            channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED
        ).count(),
    }
    return render(request, "apologies/detail.html", ctx)


@login_required
@edit_required
def campaign_settings(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    if not campaign.is_editable:
        messages.error(request, "Sending has started: the campaign can no longer be changed.")
        return redirect(campaign)
    form = CampaignSettingsForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        lifecycle.campaign_settings_save(campaign=form.save(commit=False), changed=form.changed_data, user=request.user)
        if form.audience_changed():
            planning.campaign_plan(campaign=campaign)
        messages.success(request, "Saved.")
        return redirect(campaign)
    return render(request, "apologies/settings.html", {"form": form, "campaign": campaign})


@login_required
@edit_required
@require_POST
def campaign_replan(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)

    def replan():
        planning.campaign_plan(campaign=campaign)
        lifecycle.campaign_edited(campaign=campaign, user=request.user, what="audience planned again")

    return campaign_act(
        request, campaign, replan, "Planned again from the current ledger, contacts and suppression list."
    )


@login_required
@edit_required
@require_POST
def campaign_submit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    return campaign_act(
        request,
        campaign,
        lambda: lifecycle.campaign_submit(campaign=campaign, user=request.user),
        "Submitted: an approver other than you has to approve it.",
    )


@login_required
@approve_required
@require_POST
def campaign_approve(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    return campaign_act(
        request, campaign, lambda: lifecycle.campaign_approve(campaign=campaign, user=request.user), "Approved."
    )


@login_required
@approve_required
@require_POST
def campaign_changes_approve(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    return campaign_act(
        request,
        campaign,
        lambda: lifecycle.campaign_changes_approve(campaign=campaign, user=request.user),
        "Changes approved: its letters can go out."
        if campaign.status == Campaign.Status.COMPLETED
        else "Changes approved: the campaign can resume.",
    )


@login_required
@approve_required
@require_POST
def campaign_reject(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what needs to change.")
        return redirect(campaign)
    return campaign_act(
        request,
        campaign,
        lambda: lifecycle.campaign_reject(campaign=campaign, user=request.user, reason=form.cleaned_data["reason"]),
        "Sent back to draft.",
    )


@login_required
@send_required
@require_POST
def campaign_cancel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    return campaign_act(
        request,
        campaign,
        lambda: lifecycle.campaign_cancel(campaign=campaign, user=request.user),
        "Cancelled for good.",
    )


@login_required
@view_required
def campaign_templates(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    templates = list(campaign.templates.all())
    selected = next((t for t in templates if str(t.id) == request.GET.get("t")), templates[0])
    ctx = _templates_context(campaign, templates, selected, TemplateForm(instance=selected))
    return render(request, "apologies/templates.html", ctx)


def _templates_context(
    campaign: Campaign, templates: list[CampaignTemplate], selected: CampaignTemplate, form: TemplateForm
) -> dict:
    labels = campaign.incident.tier_labels()
    return {
        "campaign": campaign,
        "templates": [(t, _variant_label(t, labels)) for t in templates],
        "selected": selected,
        "selected_label": _variant_label(selected, labels),
        # The default words cannot be removed: every variant falls back to them.
        "default_id": next((t.id for t in templates if t.language == "" and t.tier == CampaignTemplate.ANY_TIER), None),
        "form": form,
        "variant_form": VariantForm(campaign=campaign),
        "placeholders": templating.PLACEHOLDERS.items(),
        "forms": previews.plural_forms(campaign=campaign),
    }


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
        lifecycle.template_save(template=form.save(commit=False), user=request.user)
        messages.success(request, "Saved.")
        return redirect(f"{_templates_url(campaign)}?t={template.id}")
    ctx = _templates_context(campaign, list(campaign.templates.all()), template, form)
    return render(request, "apologies/templates.html", ctx, status=400)


def _templates_url(campaign: Campaign) -> str:

    return reverse("apologies:templates", args=[campaign.id])


@login_required
@edit_required
@require_POST
def template_add(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    form = VariantForm(request.POST, campaign=campaign)
    if not campaign.is_editable or not form.is_valid():
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs) or "Not now.")
        return redirect(_templates_url(campaign))
    template = lifecycle.template_add(
        campaign=campaign, language=form.cleaned_data["language"], tier=form.cleaned_data["tier"], user=request.user
    )
    return redirect(f"{_templates_url(campaign)}?t={template.id}")


@login_required
@edit_required
@require_POST
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_object_or_404(CampaignTemplate.objects.select_related("campaign__incident"), id=template_id)
    campaign = template.campaign
    try:
        lifecycle.template_delete(template=template, user=request.user)
    except CampaignError as e:
        messages.error(request, str(e))
        return redirect(f"{_templates_url(campaign)}?t={template.id}")
    messages.success(request, f"Variant {template} removed.")
    return redirect(_templates_url(campaign))


RECIPIENT_SORTS = {"messages": "-messages", "email": "email", "tier": "-tier"}


@login_required
@view_required
def campaign_recipients(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
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
    campaign = campaign_or_404(campaign_id)
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
        "language",
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
                + [csv_safe(r.detail), invited_label(r), "yes" if r.gift else "no", code_shown(r), r.language]
            )
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.id}-channels.csv"'
    return response


def invited_label(recipient: Recipient) -> str:
    """ "not contacted" for channel none: nobody is invited back by a message they never get."""
    if recipient.channel == Recipient.Channel.NONE:
        return "not contacted"
    return "yes" if recipient.invite_allowed else "no"


def code_shown(recipient: Recipient) -> str:
    # Codes are printed on letters and typed from them: the sorry page takes a letter's code only.
    return recipient.short_code if recipient.channel == Recipient.Channel.LETTER else ""


@login_required
@view_required
def recipient_preview(request: HttpRequest, recipient_id: int) -> HttpResponse:
    recipient = get_object_or_404(Recipient.objects.select_related("campaign__incident", "contact"), id=recipient_id)
    campaign = recipient.campaign
    template = campaign.template_for(recipient)
    delivery = recipient.deliveries.first()
    rendered = words.render_for(
        campaign, recipient, template, delivery_id=delivery.id if delivery else None, preview=True
    )
    headers = esp.headers_for(delivery.id) if delivery else {}
    letter = letter_previews.preview_current(recipient=recipient)
    letter_state = letter_previews.preview_state(letter)
    letter_pages = list(range(1, letter.pages.count() + 1)) if letter_state == "ready" else []
    ctx = {
        "campaign": campaign,
        "recipient": recipient,
        "template": template,
        "rendered": rendered,
        "email_html": esp.email_html(
            campaign, rendered.subject, rendered.html, words.words_language(campaign, template)
        )
        if rendered.html
        else "",
        "forms": previews.plural_forms(
            campaign=campaign, recipient=recipient, language=words.words_language(campaign, template)
        ),
        "letter_pages": letter_pages,
        "letter_state": letter_state,
        "letter_problem": letter.error if letter is not None and letter_state == "failed" else "",
        "invited": invited_label(recipient),
        "reply_to": headers.get("Reply-To", "set when sending starts (it names the delivery)"),
        "list_unsubscribe": headers.get("List-Unsubscribe", "set when sending starts (one-click, RFC 8058)"),
        "override_form": OverrideForm(initial={"channel": recipient.channel}),
        "resubscribe_url": links.resubscribe_url(recipient) if recipient.invite_allowed else "",
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
            planning.recipient_override(
                recipient=recipient,
                channel=form.cleaned_data["channel"],
                note=form.cleaned_data["note"],
                user=request.user,
            )
            messages.success(request, f"{recipient.email} now gets: {recipient.get_channel_display().lower()}.")
        except CampaignError as e:
            messages.error(request, str(e))
    return redirect("apologies:preview", recipient.id)


@login_required
@permission_required("apologies.view_countrypolicy", raise_exception=True)
def policies(request: HttpRequest) -> HttpResponse:
    planning.policy_defaults_ensure()
    form = CountryPolicyForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("apologies.change_countrypolicy"):
            return HttpResponse(status=403)
        if form.is_valid():
            planning.policy_save(**form.cleaned_data)
            messages.success(
                request, f"Policy for {form.cleaned_data['country']} saved. Plan campaigns again to apply it."
            )
            return redirect("apologies:policies")
    return render(request, "apologies/policies.html", {"form": form, "policies": CountryPolicy.objects.all()})
