"""Forms of the watch page: a rule's numbers, an ESP's switch, a dismissal's note."""

from __future__ import annotations

from django import forms

from .models import WatchRule
from .windows import PERSON_TTL

Kind = WatchRule.Kind

# Rules whose `minimum` is a window in seconds (the others': the least messages in the hour), as the page labels it.
WINDOW_KINDS = (Kind.PERSON_BURST, Kind.SUPPRESSED)
# A person's (and a workflow's suppressed) messages are forgotten PERSON_TTL seconds after the last one: a longer
# window would count fewer than it says.
MAX_WINDOW = PERSON_TTL
# WatchRule.minimum is an integer column: 32 bits in PostgreSQL.
MAX_MINIMUM = 2**31 - 1


class RuleForm(forms.Form):
    kind = forms.ChoiceField(choices=WatchRule.Kind.choices, widget=forms.HiddenInput)
    enabled = forms.BooleanField(required=False)
    # Bounds are checked in clean(), by kind, with errors that name the field and the value.
    threshold = forms.FloatField(
        widget=forms.NumberInput(attrs={"min": 0}),
        error_messages={"required": "Threshold is empty.", "invalid": "Threshold must be a number."},
    )
    minimum = forms.IntegerField(
        widget=forms.NumberInput(attrs={"min": 0}),
        error_messages={
            "required": "Window (seconds) or least messages in the hour is empty.",
            "invalid": "Window (seconds) or least messages in the hour must be a whole number.",
        },
    )

    def clean(self) -> dict:
        data = super().clean()
        kind, threshold, minimum = data.get("kind"), data.get("threshold"), data.get("minimum")
        if threshold is not None:
            if kind == Kind.COMPLAINTS and not 0 <= threshold <= 100:
                self.add_error(
                    "threshold",
                    f"Threshold (a percent of the hour's messages) must be from 0 to 100, not {threshold:g}.",
                )
            elif threshold < 0:
                self.add_error("threshold", f"Threshold must be 0 or more, not {threshold:g}.")
        if minimum is not None:
            if kind in WINDOW_KINDS:
                # Judged over max(60, window) seconds and shown as window // 60 minutes: only whole minutes say
                # what is judged.
                if not 60 <= minimum <= MAX_WINDOW or minimum % 60:
                    self.add_error(
                        "minimum",
                        f"Window (seconds) must be whole minutes from 60 (1 minute) to {MAX_WINDOW:,} "
                        f"({MAX_WINDOW // 60} minutes), not {minimum:,}.",
                    )
            elif not 0 <= minimum <= MAX_MINIMUM:
                self.add_error(
                    "minimum", f"Least messages in the hour must be from 0 to {MAX_MINIMUM:,}, not {minimum:,}."
                )
        return data

    def problems(self) -> str:
        """Every error, each naming its field and value, for the one message the page shows after a POST."""
        return " ".join(message for errors in self.errors.values() for message in errors)


class SwitchForm(forms.Form):
    esp = forms.CharField(max_length=32)
    enabled = forms.BooleanField(required=False)


class DismissForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
