"""Pages for printed letters: gifts and budget, the preview, batches for the mail house, returns."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import letters, services
from .models import Campaign, Delivery, GiftPackage, Letter, LetterBatch, LetterSettings, Recipient
from .views import _campaign, edit_required, send_required, view_required

RETURNS_MAX_BYTES = 5 * 1024 * 1024


class LetterSettingsForm(forms.Form):
    page_size = forms.ChoiceField(choices=LetterSettings.PageSize.choices, widget=forms.RadioSelect)
    return_address = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="As it prints in the return window: the sender's name, then the address, one line per line.",
    )
    return_country = forms.CharField(max_length=2, help_text="ISO code: letters to other countries name theirs.")
    cost_per_letter = forms.DecimalField(
        label="Postage and print per letter", max_digits=8, decimal_places=2, min_value=0
    )
    budget = forms.DecimalField(
        required=False, max_digits=10, decimal_places=2, min_value=0, help_text="Letters and gifts; empty: no limit."
    )
    batch_size = forms.IntegerField(label="Letters per batch", min_value=1, max_value=5000)
    duplex = forms.BooleanField(
        required=False, label="Printed on both sides (a blank back keeps every letter on its own sheets)"
    )

    # How the mail house receives them, not what people read: changing these needs no new approval.
    PRINT_ONLY = ("batch_size", "duplex")

    def __init__(self, *args, campaign: Campaign, ls: LetterSettings, **kwargs) -> None:
        initial = {name: getattr(ls, name) for name in self.base_fields if hasattr(ls, name)}
        initial["cost_per_letter"] = campaign.cost_per_letter
        super().__init__(*args, initial=initial, **kwargs)
        if not campaign.is_editable:
            for name, f in self.fields.items():
                f.disabled = name not in self.PRINT_ONLY

    def clean_return_address(self) -> str:
        lines = [line.strip() for line in self.cleaned_data["return_address"].splitlines() if line.strip()]
        if len(lines) < 2:
            raise forms.ValidationError("A name and at least one line of address.")
        problem = letters.return_problem(lines)
        if problem:
            raise forms.ValidationError(problem)
        return "\n".join(lines)

    def clean_return_country(self) -> str:
        country = self.cleaned_data["return_country"].strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise forms.ValidationError("A two-letter ISO code, e.g. US, GB, DE.")
        return country


class GiftsForm(forms.Form):
    """One choice per tier: a package from the catalogue, or none."""

    def __init__(self, *args, campaign: Campaign, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        current = {a.tier: a.package_id for a in campaign.gift_assignments.all()}
        for tier, label in enumerate(campaign.incident.tier_labels()):
            self.fields[f"tier_{tier}"] = forms.ModelChoiceField(
                GiftPackage.objects.all(),
                required=False,
                empty_label="No gift",
                label=f"Tier {label} messages",
                initial=current.get(tier),
            )

    def packages(self) -> dict[int, GiftPackage | None]:
        return {int(name.removeprefix("tier_")): value for name, value in self.cleaned_data.items()}


class RenderForm(forms.Form):
    size = forms.IntegerField(label="Letters per batch", min_value=1, max_value=5000)


class MailedForm(forms.Form):
    mailed_on = forms.DateField(label="Mailed on", widget=forms.DateInput(attrs={"type": "date"}))


class ReturnsForm(forms.Form):
    file = forms.FileField(
        label="Returns file", help_text="CSV from the mail house: a column sequence or short_code (and reason)."
    )


class GiftPackageForm(forms.ModelForm):
    class Meta:
        model = GiftPackage
        fields = ["name", "sku", "items", "unit_cost", "stock"]
        widgets = {"items": forms.Textarea(attrs={"rows": 3})}

    def clean_unit_cost(self):
        cost = self.cleaned_data["unit_cost"]
        if cost < 0:
            raise forms.ValidationError("A cost cannot be negative.")
        return cost


def _batch(batch_id: int) -> LetterBatch:
    return get_object_or_404(LetterBatch.objects.select_related("campaign__incident"), id=batch_id)


def _letters_url(campaign: Campaign) -> str:
    return reverse("apologies:letters", args=[campaign.id])


@login_required
@view_required
def campaign_letters(request: HttpRequest, campaign_id: int, *, forms_given: dict | None = None) -> HttpResponse:
    campaign = _campaign(campaign_id)
    ls = letters.letter_settings(campaign)
    batches = list(
        campaign.letter_batches.annotate(returned=Count("letters", filter=Q(letters__returned_at__isnull=False)))
    )
    waiting = campaign.deliveries.filter(
        channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED, letter__isnull=True
    ).count()
    held = letters.letters_held(campaign=campaign)
    progress = letters.batches_progress(campaign=campaign)
    if not progress["finished"]:
        letters.batches_requeue_stale(campaign=campaign)
    given = forms_given or {}
    ctx = {
        "campaign": campaign,
        "ls": ls,
        "cost": letters.letters_cost(campaign=campaign),
        "reservations": campaign.gift_reservations.select_related("package"),
        "batches": batches,
        "progress": progress,
        "waiting": waiting,
        "printable": max(0, waiting - len(held)) if campaign.status in letters.STARTED else 0,
        "started": campaign.status in letters.STARTED,
        "held": held,
        "without_address": letters.letters_without_address(campaign=campaign),
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
    campaign = _campaign(campaign_id)
    ls = letters.letter_settings(campaign)
    form = LetterSettingsForm(request.POST, campaign=campaign, ls=ls)
    if not form.is_valid():
        return campaign_letters(request, campaign_id, forms_given={"settings": form})
    try:
        letters.letter_settings_save(campaign=campaign, values=form.cleaned_data, user=request.user)
    except services.CampaignError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "Letter settings saved.")
    return redirect(_letters_url(campaign))


@login_required
@edit_required
@require_POST
def letters_gifts(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = GiftsForm(request.POST, campaign=campaign)
    if not form.is_valid():
        return campaign_letters(request, campaign_id, forms_given={"gifts": form})
    try:
        letters.gifts_assign(campaign=campaign, packages=form.packages(), user=request.user)
    except services.CampaignError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "Gift packages saved.")
    return redirect(_letters_url(campaign))


@login_required
@send_required
@require_POST
def letters_render(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = RenderForm(request.POST)
    size = form.cleaned_data["size"] if form.is_valid() else None
    try:
        run = letters.batches_create(campaign=campaign, user=request.user, size=size)
    except services.CampaignError as e:
        messages.error(request, str(e))
        return redirect(_letters_url(campaign))
    if run.batches:
        messages.success(request, f"Rendering {run.letters:,} letters in {len(run.batches)} batches.")
    else:
        messages.error(request, "No letter is waiting to be printed.")
    if run.held:
        messages.error(request, f"{len(run.held)} held out: their address needs fixing first (listed below).")
    return redirect(_letters_url(campaign))


@login_required
@view_required
def letters_progress(request: HttpRequest, campaign_id: int) -> JsonResponse:
    campaign = _campaign(campaign_id)
    progress = letters.batches_progress(campaign=campaign)
    if not progress["finished"]:
        letters.batches_requeue_stale(campaign=campaign)
    return JsonResponse(progress)


def _file(batch: LetterBatch, which: str):
    f = getattr(batch, which)
    if batch.status in (LetterBatch.Status.RENDERING, LetterBatch.Status.FAILED) or not f:
        raise Http404("This batch has not been rendered.")
    return f


@login_required
@send_required
def batch_zip(request: HttpRequest, batch_id: int) -> FileResponse:
    batch = _batch(batch_id)
    f = _file(batch, "archive")
    letters.batch_downloaded(batch=batch, user=request.user)
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
    response = HttpResponse(letters.batch_manifest(batch=batch), content_type="text/csv; charset=utf-8")
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
        letters.batch_mailed(batch=batch, on=form.cleaned_data["mailed_on"], user=request.user)
    except services.CampaignError as e:
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
        letters.batch_retry(batch=batch, user=request.user)
    except services.CampaignError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Rendering batch {batch.number} again.")
    return redirect(_letters_url(batch.campaign))


@login_required
@send_required
@require_POST
def letters_returns(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = ReturnsForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose the returns file.")
        return redirect(_letters_url(campaign))
    upload = form.cleaned_data["file"]
    if upload.size > RETURNS_MAX_BYTES:
        messages.error(request, "That file is too large for a returns file (5 MB at most).")
        return redirect(_letters_url(campaign))
    text = upload.read().decode("utf-8-sig", errors="replace")
    result = letters.returns_apply(campaign=campaign, text=text, user=request.user)
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
    recipient = get_object_or_404(Recipient.objects.select_related("campaign__incident", "contact"), id=recipient_id)
    try:
        pdf = letters.letter_preview(recipient=recipient)
    except services.CampaignError as e:
        return HttpResponse(str(e), status=404, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="letter-{recipient.short_code}.pdf"'
    return response


# The gift catalogue


@login_required
@permission_required("apologies.view_giftpackage", raise_exception=True)
def gift_list(request: HttpRequest) -> HttpResponse:
    form = GiftPackageForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("apologies.add_giftpackage"):
            return HttpResponse(status=403)
        if form.is_valid():
            package = form.save()
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
            letters.gift_save(package=package, values=form.cleaned_data)
        except services.CampaignError as e:
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
