"""Forms of campaigns: creation, settings, templates and variants, overrides, rejection and country rules."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator, validate_email

from apologies.campaigns import email_html, locales, templating
from apologies.campaigns.models import CAREFUL_FIELDS, DEFAULT_SENDER_NAME, Campaign, CampaignTemplate, Recipient
from apologies.sending.waves import AT
from incidents.contacts.languages import language_code
from incidents.models import AffectedPerson

# No ESP limit is written down in the code: 1,000 a second is far above what one apology needs, and keeps a
# typo (99999999999) from being approved as the plan.
MAX_RATE_PER_SECOND = 1000
# 0 hours would make every approval stale the moment it is given; a year is longer than any apology waits.
MAX_APPROVAL_AGE_HOURS = 365 * 24
HTTPS_URL = URLValidator(schemes=["https"])


def bounds(field: forms.Field, least: int | Decimal, most: int | Decimal | None = None, unit: str = "") -> None:
    """Replace a number field's bare bounds ("Ensure this value is ...") by one whose error names field and value."""
    label = field.label
    span = f"{least:,} or more" if most is None else f"from {least:,} to {most:,}"
    if unit:
        span += f" {unit}"

    def check(value: int | Decimal) -> None:
        if value < least or (most is not None and value > most):
            raise forms.ValidationError(f"{label} must be {span}, not {value:,}.", code="bounds")

    field.validators = [v for v in field.validators if not isinstance(v, MinValueValidator | MaxValueValidator)]
    field.validators.append(check)
    # The browser refuses the same values before the form is sent.
    field.widget.attrs["min"] = least
    if most is not None:
        field.widget.attrs["max"] = most


def tiers_field(**kwargs) -> forms.TypedMultipleChoiceField:
    kwargs.setdefault("help_text", "None ticked: every tier.")
    return forms.TypedMultipleChoiceField(coerce=int, required=False, widget=forms.CheckboxSelectMultiple, **kwargs)


def states_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=AffectedPerson.State.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: everyone.",
    )


class CampaignCreateForm(forms.Form):
    name = forms.CharField(max_length=200, initial="Our apology")
    tiers = tiers_field()
    states = states_field()
    allow_follow_up = forms.BooleanField(
        required=False, help_text="Also write to people an earlier campaign of this incident already apologised to."
    )
    field_order = ["name", "tiers", "states", "allow_follow_up"]

    def __init__(self, *args, incident, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tiers"].choices = list(enumerate(incident.tier_labels()))


class CampaignSettingsForm(forms.ModelForm):
    tiers = tiers_field()
    states = states_field()
    gift_tiers_field = tiers_field(label="Tiers whose letters carry a gift", help_text="")

    class Meta:
        model = Campaign
        fields = [
            "name",
            "allow_follow_up",
            "sender_name",
            "brand_name",
            "brand_logo",
            "brand_color",
            "from_address",
            "postal_address",
            "default_language",
            "time_zone",
            "rate_per_second",
            "pause_after_errors",
            "approval_max_age_hours",
            "cost_per_letter",
            "cost_per_gift",
            "seed_list",
            *CAREFUL_FIELDS,
        ]
        widgets = {
            "seed_list": forms.Textarea(attrs={"rows": 3}),
            "send_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        labels = list(enumerate(self.instance.incident.tier_labels()))
        self.fields["tiers"].choices = labels
        self.fields["gift_tiers_field"].choices = labels
        self.fields["tiers"].initial = self.instance.audience_tiers
        self.fields["states"].initial = self.instance.audience_states
        self.fields["gift_tiers_field"].initial = self.instance.gift_tiers
        self.order_fields(["name", "tiers", "states", "allow_follow_up"])
        bounds(self.fields["rate_per_second"], 1, MAX_RATE_PER_SECOND, "messages a second")
        # Checked as ">= pause_after_errors" after a failed send: 0 would read as "never" but pauses at the first.
        bounds(self.fields["pause_after_errors"], 1, unit="failed sends in a row")
        bounds(self.fields["approval_max_age_hours"], 1, MAX_APPROVAL_AGE_HOURS, "hours (a year)")
        bounds(self.fields["cost_per_letter"], Decimal("0"))
        bounds(self.fields["cost_per_gift"], Decimal("0"))

    def clean_default_language(self) -> str:
        code = language_code(self.cleaned_data["default_language"])
        if not code:
            raise forms.ValidationError("An ISO 639 language code, e.g. en, fr, de, es.")
        return code

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        if name and name not in available_timezones():
            raise forms.ValidationError("An IANA time zone, e.g. Europe/Paris or America/Chicago.")
        return name

    def clean_brand_logo(self) -> str:
        logo = self.cleaned_data["brand_logo"].strip()
        parts = urlsplit(logo)
        if not (parts.scheme or parts.netloc):
            return logo  # a path under static/ (or on this site)
        # The pages are served over https: an http logo is blocked or flagged as mixed content by browsers.
        if not logo.startswith("https://"):
            raise forms.ValidationError(
                f"{self.fields['brand_logo'].label} must be an https:// URL or a path under static/, not {logo!r}."
            )
        try:
            HTTPS_URL(logo)
        except forms.ValidationError:
            raise forms.ValidationError(
                f"{self.fields['brand_logo'].label} is not a URL a browser can load: {logo!r}."
            ) from None
        return logo

    def clean_seed_list(self) -> str:
        text = self.cleaned_data["seed_list"]
        # Read as Campaign.seed_addresses reads it (commas or lines), so what is checked is what receives the tests.
        problems = []
        for line in text.replace(",", "\n").splitlines():
            address = line.strip()
            if not address:
                continue
            try:
                validate_email(address)
            except forms.ValidationError:
                problems.append(f"{self.fields['seed_list'].label}: {address!r} is not an email address.")
        if problems:
            raise forms.ValidationError(problems)
        return text

    def clean(self) -> dict:
        data = super().clean()
        # Without a time, sending.waves starts "at a set time" at once: refuse rather than send earlier than meant.
        if data.get("schedule") == AT and not data.get("send_at") and "send_at" not in self.errors:
            self.add_error(
                "send_at",
                f"{self.fields['send_at'].label} is empty, but the schedule is “At a set time”: say when to start.",
            )
        return data

    def save(self, commit: bool = True) -> Campaign:
        campaign = super().save(commit=False)
        campaign.audience_tiers = sorted(self.cleaned_data["tiers"])
        campaign.audience_states = sorted(self.cleaned_data["states"])
        campaign.gift_tiers = sorted(self.cleaned_data["gift_tiers_field"])
        if commit:
            campaign.save()
        return campaign

    def audience_changed(self) -> bool:
        return bool({"tiers", "states", "allow_follow_up", "gift_tiers_field"} & set(self.changed_data))


# A variant's own words for what the incident and the campaign say once, in the default language.
OWN_WORDS = ["what_happened", "the_fix", "sender_name"]


class TemplateForm(forms.ModelForm):
    class Meta:
        model = CampaignTemplate
        fields = ["subject", "text_body", "html_body", "letter_body", "invitation", *OWN_WORDS]
        labels = {
            "text_body": "Text body",
            "html_body": "HTML body",
            "letter_body": "Letter body (HTML)",
            "what_happened": "What happened, in this language",
            "the_fix": "The fix, in this language",
            "sender_name": "Sender name, in this language",
        }
        widgets = {
            "text_body": forms.Textarea(attrs={"rows": 14, "class": "mono"}),
            "html_body": forms.Textarea(attrs={"rows": 14, "class": "mono"}),
            "letter_body": forms.Textarea(attrs={"rows": 10, "class": "mono"}),
            "invitation": forms.Textarea(attrs={"rows": 3, "class": "mono"}),
            "what_happened": forms.Textarea(attrs={"rows": 4}),
            "the_fix": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        template = self.instance
        campaign = template.campaign
        language = language_code(template.language)
        default = language_code(campaign.default_language)
        if not language or language == default:
            # The default language's words are the incident's and the campaign's own: nothing to replace.
            for name in OWN_WORDS:
                del self.fields[name]
            return
        name, default_name = locales.language_name_in(language, "en"), locales.language_name_in(default, "en")
        for field, whose in (
            ("what_happened", "the incident's “what happened”"),
            ("the_fix", "the incident's fix"),
        ):
            self.fields[field].help_text = (
                f"Replaces {whose} (written in {default_name}) in these {name} words; "
                f"blank: the incident's, which submitting refuses where these words use {{{{ {field} }}}}."
            )
        said = f", said in {name}" if campaign.sender_name == DEFAULT_SENDER_NAME else ""
        self.fields[
            "sender_name"
        ].help_text = (
            f"Replaces the campaign's sender name in these {name} words; blank: “{campaign.sender_name}”{said}."
        )

    def clean(self) -> dict:
        data = super().clean()
        for name in ("subject", "text_body", "html_body", "letter_body"):
            for problem in templating.validate(data.get(name) or ""):
                self.add_error(name, problem)
        for problem in templating.validate(data.get("invitation") or "", invitation=True):
            self.add_error("invitation", problem)
        active = email_html.active_content_problem(data.get("html_body") or "")
        if active:
            self.add_error("html_body", active)
        return data


class VariantForm(forms.Form):
    language = forms.CharField(max_length=10, required=False, help_text="e.g. fr, de; empty for the default language")
    tier = forms.TypedChoiceField(coerce=int, required=False, empty_value=CampaignTemplate.ANY_TIER)

    def __init__(self, *args, campaign: Campaign, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.fields["tier"].choices = [("", "any tier")] + list(enumerate(campaign.incident.tier_labels()))

    def clean(self) -> dict:
        data = super().clean()
        typed = (data.get("language") or "").strip()
        language = language_code(typed)
        if typed and not language:
            raise forms.ValidationError(f"{typed!r} is not a language code we know (e.g. fr, de, es).")
        data["language"] = language
        if self.campaign.templates.filter(language=language, tier=data.get("tier")).exists():
            raise forms.ValidationError("That variant exists already.")
        return data


class OverrideForm(forms.Form):
    channel = forms.ChoiceField(choices=Recipient.Channel.choices)
    note = forms.CharField(max_length=300, required=False, help_text="Why, for the audit trail.")


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="What needs to change.")


class CountryPolicyForm(forms.Form):
    country = forms.CharField(max_length=2, help_text="ISO code, e.g. US, GB, DE.")
    letter_allowed = forms.BooleanField(required=False, label="An apology letter may be posted to people who objected")
    letter_reason = forms.CharField(max_length=300, required=False, label="Lawful reason (letter)")
    gift_allowed = forms.BooleanField(required=False, label="Their letter may carry a gift")
    gift_reason = forms.CharField(max_length=300, required=False, label="Lawful reason (gift)")
    invite_allowed = forms.BooleanField(required=False, label="The apology may invite people who objected back")
    invite_reason = forms.CharField(max_length=300, required=False, label="Lawful reason (invitation)")
    note = forms.CharField(max_length=200, required=False)

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise forms.ValidationError("A two-letter ISO code, e.g. US, GB, DE.")
        return country

    def clean(self) -> dict:
        data = super().clean()
        for switch in ("letter", "gift", "invite"):
            if not (data.get(f"{switch}_reason") or "").strip():
                self.add_error(f"{switch}_reason", "Say why, for the record: the lawful reason for allowing or not.")
        return data
