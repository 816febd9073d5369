"""Thin forms of incidents: incident, upload, CSV mapping, contact and suppression forms."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms

from . import sendlogs
from .contacts.languages import language_code
from .models import Contact, Incident, Suppression, parse_tier_bounds, tier_labels
from .sendlogs.readers import ENCODINGS


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class IncidentForm(forms.ModelForm):
    workflows_text = forms.CharField(
        label="Faulty workflows or campaigns",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One identifier per line, as the ESP logs it: campaign id or name, category, tag or workflow id.",
    )
    tier_text = forms.CharField(
        label="Tiers by messages received",
        initial="1, 2, 10, 50",
        help_text="Where each tier starts: 1, 2, 10, 50 gives 1, 2-9, 10-49 and 50+.",
    )

    class Meta:
        model = Incident
        fields = ["title", "what_happened", "started_at", "ended_at", "root_cause", "fix", "status", "owner"]
        widgets = {
            "started_at": DateTimeInput(),
            "ended_at": DateTimeInput(),
            "what_happened": forms.Textarea(attrs={"rows": 4}),
            "root_cause": forms.Textarea(attrs={"rows": 3}),
            "fix": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["workflows_text"].initial = "\n".join(self.instance.workflows)
            self.fields["tier_text"].initial = ", ".join(str(b) for b in self.instance.tier_bounds)

    def clean_tier_text(self) -> list[int]:
        try:
            return parse_tier_bounds(self.cleaned_data["tier_text"])
        except ValueError as e:
            raise forms.ValidationError(str(e)) from None

    def save(self, commit: bool = True) -> Incident:
        incident = super().save(commit=False)
        text = self.cleaned_data.get("workflows_text", "")
        incident.workflows = [w.strip() for w in text.replace(",", "\n").splitlines() if w.strip()]
        incident.tier_bounds = self.cleaned_data["tier_text"]
        if commit:
            incident.save()
        return incident

    def ledger_fields_changed(self) -> list[str]:
        changed = list(self.changed_data)
        return [{"workflows_text": "workflows", "tier_text": "tier_bounds"}.get(name, name) for name in changed]

    @property
    def tier_preview(self) -> list[str]:
        return tier_labels(self.instance.tier_bounds)


FORMAT_CHOICES = [("auto", "Detect automatically")] + [(f, sendlogs.FORMAT_LABELS[f]) for f in sendlogs.FORMATS]


class SendLogUploadForm(forms.Form):
    file = forms.FileField(help_text="JSON, NDJSON or CSV, gzip-compressed or not. Hundreds of MB are fine.")
    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial="auto")


DELIMITERS = [("", "Detect"), (",", "Comma ,"), (";", "Semicolon ;"), ("\t", "Tab"), ("|", "Pipe |")]


ENCODING_CHOICES = [("", "Detect")] + ENCODINGS
ROWS_CHOICES = [
    ("messages", "One message each (a status column gives its outcome)"),
    ("events", "One event each (several rows per message, with a message id)"),
]


def time_zone_choices() -> list[tuple[str, str]]:
    return [("UTC", "UTC")] + [(name, name) for name in sorted(available_timezones()) if "/" in name]


class MappingForm(forms.Form):
    recipient = forms.ChoiceField(label="Recipient address column")
    time = forms.ChoiceField(label="Time column")
    message_id = forms.ChoiceField(label="Message id column", required=False)
    workflow = forms.ChoiceField(label="Workflow or campaign column", required=False)
    event = forms.ChoiceField(
        label="Event or status column",
        required=False,
        help_text="Without one, every row is a sent message. Its words are read as shown below the table.",
    )
    rows = forms.ChoiceField(label="Each row is", choices=ROWS_CHOICES, initial="messages", required=False)
    delimiter = forms.ChoiceField(choices=DELIMITERS, required=False)
    encoding = forms.ChoiceField(
        choices=ENCODING_CHOICES,
        required=False,
        help_text="Detected from the file; change it if names in the preview look wrong.",
    )
    date_format = forms.CharField(
        required=False,
        help_text="Empty for ISO 8601 or unix seconds; otherwise a strptime format such as %d/%m/%Y %H:%M.",
    )
    time_zone = forms.ChoiceField(
        label="Time zone of times without one",
        required=False,
        initial="UTC",
        help_text="Times that carry no offset are read in this zone; the preview shows the first ones in UTC.",
    )
    remember = forms.BooleanField(label="Use this mapping for this incident's next CSV", required=False, initial=True)

    FIELDS = ("recipient", "time", "message_id", "workflow", "event")

    def __init__(self, *args, columns: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()
        optional = [("", "(none)")] + [(c, c) for c in columns]
        for name in self.FIELDS:
            field = self.fields[name]
            field.choices = optional if not field.required else [("", "Choose a column")] + optional[1:]

    def mapping(self) -> dict:
        found = {name: self.cleaned_data[name] for name in self.FIELDS if self.cleaned_data.get(name)}
        if self.cleaned_data.get("rows") == "events":
            found["rows"] = "events"
        return found


class FileUploadForm(forms.Form):
    file = forms.FileField()


class SuppressionUploadForm(forms.Form):
    file = forms.FileField(
        help_text="An ESP's suppression export (CSV): email column, and a reason column if it has one."
    )
    reason = forms.ChoiceField(
        choices=Suppression.Reason.choices,
        initial=Suppression.Reason.UNSUBSCRIBED,
        help_text="Used for rows whose reason the file does not say.",
    )


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ["email", "reason", "source"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if "@" not in email:
            raise forms.ValidationError("Enter an email address.")
        return email


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "email",
            "first_name",
            "last_name",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "language",
        ]

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_country(self) -> str:
        return self.cleaned_data["country"].strip().upper()

    def clean_language(self) -> str:
        typed = self.cleaned_data["language"].strip()
        code = language_code(typed)
        if typed and not code:
            raise forms.ValidationError("An ISO 639 language code, e.g. fr, de, es (or its name: French).")
        return code
