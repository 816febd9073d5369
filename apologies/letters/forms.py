"""Forms of the letters pages: settings, gifts per tier, rendering, mailed date, returns and gift packages."""

from __future__ import annotations

from django import forms

from apologies.campaigns.models import Campaign
from apologies.letters import paper
from apologies.letters.models import GiftPackage, LetterSettings

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
        problem = paper.return_problem(lines)
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
