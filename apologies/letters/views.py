"""Staff pages of letters: settings, gifts, batches with progress, downloads, mailed, returns and previews."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apologies.campaigns.access import campaign_or_404, edit_required, send_required, view_required
from apologies.campaigns.models import Campaign, CampaignError, Recipient
from apologies.letters import gifts, layout, preflight, profiles, returns, stock
from apologies.letters import services as letter_batches
from apologies.letters import services_previews as previews
from apologies.letters.forms import (
    RETURNS_MAX_BYTES,
    GiftPackageForm,
    GiftsForm,
    LetterSettingsForm,
    MailedForm,
    PrintProfileForm,
    RenderForm,
    ReturnsForm,
)
from apologies.letters.models import GiftPackage, Letter, LetterBatch, PrintProfile
from apologies.sending.models import Delivery


def _batch(batch_id: int) -> LetterBatch:
    return get_object_or_404(LetterBatch.objects.select_related("campaign__incident"), id=batch_id)


def _letters_url(campaign: Campaign) -> str:
    return reverse("apologies:letters", args=[campaign.id])


@login_required
@view_required
def campaign_letters(request: HttpRequest, campaign_id: int, *, forms_given: dict | None = None) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    ls = layout.letter_settings(campaign)
    batches = list(
        campaign.letter_batches.annotate(returned=Count("letters", filter=Q(letters__returned_at__isnull=False)))
    )
    waiting = campaign.deliveries.filter(
        channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED, letter__isnull=True
    ).count()
    held = letter_batches.letters_held(campaign=campaign)
    progress = letter_batches.batches_progress(campaign=campaign)
    given = forms_given or {}
    envelope = layout.letter_envelope(ls)
    ctx = {
        "campaign": campaign,
        "ls": ls,
        "envelope": envelope,
        "slack_in": f"{envelope.slack / 72:.3g}",
        "preflight": preflight.letters_preflight(campaign=campaign),
        "min_ppi": settings.AMENDS_LETTERS_MIN_PPI,
        "cost": stock.letters_cost(campaign=campaign),
        "reservations": campaign.gift_reservations.select_related("package"),
        "batches": batches,
        "progress": progress,
        "waiting": waiting,
        "printable": max(0, waiting - len(held)) if campaign.status in letter_batches.STARTED else 0,
        "started": campaign.status in letter_batches.STARTED,
        "held": held,
        "held_for_envelope": sum(1 for h in held if h.envelope_fix),
        "without_address": letter_batches.letters_without_address(campaign=campaign),
        "settings_form": given.get("settings") or LetterSettingsForm(campaign=campaign, ls=ls),
        "gifts_form": given.get("gifts") or GiftsForm(campaign=campaign),
        "render_form": RenderForm(initial={"size": ls.batch_size}),
        "mailed_form": MailedForm(initial={"mailed_on": timezone.localdate()}),
        "returns_form": ReturnsForm(),
        "returned": Letter.objects.filter(campaign=campaign, returned_at__isnull=False).count(),
        "packages": GiftPackage.objects.exists(),
    }
    return render(request, "apologies/letters/campaign.html", ctx, status=400 if forms_given else 200)


@login_required
@edit_required
@require_POST
def letters_settings(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    ls = layout.letter_settings(campaign)
    form = LetterSettingsForm(request.POST, campaign=campaign, ls=ls)
    if not form.is_valid():
        return campaign_letters(request, campaign_id, forms_given={"settings": form})
    try:
        layout.letter_settings_save(campaign=campaign, values=form.cleaned_data, user=request.user)
    except CampaignError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "Letter settings saved.")
    return redirect(_letters_url(campaign))


@login_required
@edit_required
@require_POST
def letters_gifts(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    form = GiftsForm(request.POST, campaign=campaign)
    if not form.is_valid():
        return campaign_letters(request, campaign_id, forms_given={"gifts": form})
    try:
        gifts.gifts_assign(campaign=campaign, packages=form.packages(), user=request.user)
    except CampaignError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "Gift packages saved.")
    return redirect(_letters_url(campaign))


@login_required
@send_required
@require_POST
def letters_render(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    form = RenderForm(request.POST)
    size = form.cleaned_data["size"] if form.is_valid() else None
    try:
        run = letter_batches.batches_create(campaign=campaign, user=request.user, size=size)
    except CampaignError as e:
        messages.error(request, str(e))
        return redirect(_letters_url(campaign))
    if run.batches:
        messages.success(request, f"Rendering {run.letters:,} letters in {len(run.batches)} batches.")
        for problem in run.warnings:
            messages.warning(request, f"Printed as it is: {problem}")
    else:
        messages.error(request, "No letter is waiting to be printed.")
    if run.held:
        envelope = sum(1 for h in run.held if h.envelope_fix)
        if envelope < len(run.held):
            messages.error(
                request, f"{len(run.held) - envelope} held out: their address needs fixing first (listed below)."
            )
        if envelope:
            messages.error(
                request,
                f"{envelope} held out: the address is complete but does not fit this envelope's window: "
                "another paper and envelope would print it (listed below).",
            )
    return redirect(_letters_url(campaign))


@login_required
@view_required
def letters_progress(request: HttpRequest, campaign_id: int) -> JsonResponse:
    campaign = campaign_or_404(campaign_id)
    # A batch whose worker died is picked up by the beat schedule (requeue-letter-batches), not by a GET.
    return JsonResponse(letter_batches.batches_progress(campaign=campaign))


def _file(batch: LetterBatch, which: str):
    f = getattr(batch, which)
    if batch.status in (LetterBatch.Status.RENDERING, LetterBatch.Status.FAILED) or not f:
        raise Http404("This batch has not been rendered.")
    return f


@login_required
@send_required
@require_POST
def batch_zip(request: HttpRequest, batch_id: int) -> FileResponse:
    batch = _batch(batch_id)
    f = _file(batch, "archive")
    # Downloading the ZIP for the mail house is an explicit action (a POST): it moves a ready batch on.
    letter_batches.batch_downloaded(batch=batch, user=request.user)
    return FileResponse(f.open("rb"), as_attachment=True, filename=f"{batch.file_stem()}.zip")


@login_required
@send_required
def batch_pdf(request: HttpRequest, batch_id: int) -> FileResponse:
    batch = _batch(batch_id)
    f = _file(batch, "pdf")
    return FileResponse(f.open("rb"), content_type="application/pdf", filename=f"{batch.file_stem()}.pdf")


@login_required
@send_required
def batch_manifest(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch(batch_id)
    _file(batch, "pdf")
    response = HttpResponse(letter_batches.batch_manifest(batch=batch), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{batch.file_stem()}-manifest.csv"'
    return response


@login_required
@send_required
@require_POST
def batch_mailed(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch(batch_id)
    form = MailedForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the date the mail house posted the batch.")
        return redirect(_letters_url(batch.campaign))
    try:
        letter_batches.batch_mailed(batch=batch, on=form.cleaned_data["mailed_on"], user=request.user)
    except CampaignError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Batch {batch.number} marked mailed on {form.cleaned_data['mailed_on']}.")
    return redirect(_letters_url(batch.campaign))


@login_required
@send_required
@require_POST
def batch_retry(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch(batch_id)
    try:
        letter_batches.batch_retry(batch=batch, user=request.user)
    except CampaignError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Rendering batch {batch.number} again.")
    return redirect(_letters_url(batch.campaign))


@login_required
@send_required
@require_POST
def letters_returns(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_or_404(campaign_id)
    form = ReturnsForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose the returns file.")
        return redirect(_letters_url(campaign))
    upload = form.cleaned_data["file"]
    if upload.size > RETURNS_MAX_BYTES:
        messages.error(request, "That file is too large for a returns file (5 MB at most).")
        return redirect(_letters_url(campaign))
    text = upload.read().decode("utf-8-sig", errors="replace")
    result = returns.returns_apply(campaign=campaign, text=text, user=request.user)
    n = len(result.marked)
    summary = f"{n} letter{'s' if n != 1 else ''} marked returned to sender"
    if result.already:
        summary += f"; {result.already} were already marked"
    messages.success(request, summary + ".")
    if result.not_mailed:
        messages.error(request, "Not mailed yet, so not marked: " + "; ".join(result.not_mailed[:10]))
    if result.unknown:
        messages.error(request, "No such letter: " + "; ".join(result.unknown[:10]))
    return redirect(_letters_url(campaign))


@login_required
@view_required
def letter_preview(request: HttpRequest, recipient_id: int) -> HttpResponse:
    """The person's letter as a worker drew it for the preview (ask for it on the person's page first)."""
    recipient = get_object_or_404(Recipient.objects.select_related("campaign__incident", "contact"), id=recipient_id)
    try:
        pdf = previews.preview_pdf(recipient=recipient)
    except CampaignError as e:
        return HttpResponse(str(e), status=404, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="letter-{recipient.short_code}.pdf"'
    return response


@login_required
@view_required
def letter_page(request: HttpRequest, recipient_id: int, page: int) -> HttpResponse:
    """One page of the person's drawn letter as an image."""
    recipient = get_object_or_404(Recipient.objects.select_related("campaign__incident", "contact"), id=recipient_id)
    try:
        png = previews.preview_page_png(recipient=recipient, page=page)
    except CampaignError as e:
        return HttpResponse(str(e), status=404, content_type="text/plain; charset=utf-8")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=60"
    return response


@login_required
@send_required
@require_POST
def letter_preview_draw(request: HttpRequest, recipient_id: int) -> HttpResponse:
    """Ask a worker to draw the person's letter as it would print today."""
    recipient = get_object_or_404(Recipient.objects.select_related("campaign__incident", "contact"), id=recipient_id)
    try:
        previews.letter_preview_request(recipient=recipient, user=request.user)
    except CampaignError as e:
        messages.error(request, str(e))
    return redirect(reverse("apologies:preview", args=[recipient.id]) + "#letter")


@login_required
@permission_required("apologies.view_giftpackage", raise_exception=True)
def gift_list(request: HttpRequest) -> HttpResponse:
    form = GiftPackageForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("apologies.add_giftpackage"):
            return HttpResponse(status=403)
        if form.is_valid():
            package = gifts.gift_add(values=form.cleaned_data)
            messages.success(request, f"{package} added.")
            return redirect("apologies:gifts")
    return render(
        request,
        "apologies/letters/gifts.html",
        {"packages": GiftPackage.objects.all(), "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required("apologies.change_giftpackage", raise_exception=True)
def gift_edit(request: HttpRequest, package_id: int) -> HttpResponse:
    package = get_object_or_404(GiftPackage, id=package_id)
    form = GiftPackageForm(request.POST or None, instance=package)
    if request.method == "POST" and form.is_valid():
        try:
            gifts.gift_save(package=package, values=form.cleaned_data)
        except CampaignError as e:
            form.add_error("stock", str(e))
        else:
            messages.success(request, f"{package} saved.")
            return redirect("apologies:gifts")
    return render(
        request,
        "apologies/letters/gift_edit.html",
        {"package": package, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required("apologies.send_campaign", raise_exception=True)
def print_profiles(request: HttpRequest) -> HttpResponse:
    form = PrintProfileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        profile = profiles.print_profile_save(values=form.cleaned_data)
        messages.success(request, f"{profile} added.")
        return redirect("apologies:print_profiles")
    return render(
        request,
        "apologies/letters/print_profiles.html",
        {"profiles": PrintProfile.objects.all(), "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required("apologies.send_campaign", raise_exception=True)
def print_profile_edit(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_object_or_404(PrintProfile, id=profile_id)
    form = PrintProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        profiles.print_profile_save(values=form.cleaned_data, profile=profile)
        messages.success(request, f"{profile} saved.")
        return redirect("apologies:print_profiles")
    return render(
        request,
        "apologies/letters/print_profile_edit.html",
        {"profile": profile, "form": form},
        status=400 if form.errors else 200,
    )
