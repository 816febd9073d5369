"""Forms of the letters pages: settings, gifts per tier, rendering, mailed date, returns and gift packages."""

from __future__ import annotations

from django import forms

from apologies.campaigns.models import Campaign
from apologies.letters import paper
from apologies.letters.addressing import country_code
from apologies.letters.models import GiftPackage, LetterSettings, PrintProfile, address_lines, return_address_problem

RETURNS_MAX_BYTES = 5 * 1024 * 1024


class LetterSettingsForm(forms.Form):
    page_size = forms.ChoiceField(choices=LetterSettings.PageSize.choices, widget=forms.RadioSelect)
    envelope = forms.ChoiceField(
        required=False,
        choices=[("", "The usual one for the paper (#10 for US Letter, DL for A4)")]
        + [(e.key, e.label) for e in paper.ENVELOPES.values()],
        help_text="The window the address must fit, with the mail house's insert slack.",
    )
    return_address = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="As it prints in the return window: the sender's name, then the address, one line per line.",
    )
    return_country = forms.CharField(
        max_length=60, help_text="Code or name (US, Germany): letters to other countries name theirs."
    )
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
    print_profile = forms.ModelChoiceField(
        PrintProfile.objects.all(),
        required=False,
        empty_label="Plain PDF, RGB black, sheet marks",
        label="Mail house",
        help_text="Its PDF flavour, black and sheet marks.",
    )
    logo = forms.CharField(
        required=False, max_length=200, help_text="A file under static/, e.g. letters/brand.png; empty: the default."
    )
    sender_title = forms.CharField(required=False, max_length=100, label="Signer's title")

    # How the mail house receives them, not what people read: changing these needs no new approval.
    PRINT_ONLY = ("batch_size", "duplex", "print_profile")

    def __init__(self, *args, campaign: Campaign, ls: LetterSettings, **kwargs) -> None:
        initial = {name: getattr(ls, name) for name in self.base_fields if hasattr(ls, name)}
        initial["cost_per_letter"] = campaign.cost_per_letter
        super().__init__(*args, initial=initial, **kwargs)
        if not campaign.is_editable:
            for name, f in self.fields.items():
                f.disabled = name not in self.PRINT_ONLY

    def clean_return_address(self) -> str:
        text = self.cleaned_data["return_address"]
        if return_address_problem(text):
            raise forms.ValidationError("A name and at least one line of address.")
        return "\n".join(address_lines(text))

    def clean_return_country(self) -> str:
        """A code or a name ("Germany", "Deutschland"): stored as the ISO code, never cut to two letters."""
        country = country_code(self.cleaned_data["return_country"])
        if not country:
            raise forms.ValidationError("A country code or name we know, e.g. US, GB, DE or Germany.")
        return country

    def clean(self) -> dict:
        data = super().clean()
        page_size, envelope = data.get("page_size"), data.get("envelope") or ""
        if page_size and envelope and paper.ENVELOPES[envelope].page_size != page_size:
            self.add_error("envelope", "That envelope takes the other paper size.")
            return data
        lines = (data.get("return_address") or "").split("\n")
        if page_size and len(lines) >= 2:
            problem = paper.return_problem(lines, paper.envelope_for(page_size=page_size, envelope=envelope))
            if problem:
                self.add_error("return_address", problem)
        return data


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


class PrintProfileForm(forms.ModelForm):
    class Meta:
        model = PrintProfile
        fields = ["name", "pdf_variant", "black", "sequence_marks"]


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
