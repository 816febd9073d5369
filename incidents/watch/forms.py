"""Forms of the watch page: a rule's numbers, an ESP's switch, a dismissal's note."""

from __future__ import annotations

from django import forms

from .models import COUNT_KINDS, THRESHOLD_MAX, WatchRule, number_shown
from .windows import PERSON_TTL

Kind = WatchRule.Kind

# Rules whose `minimum` is a window in seconds (the others': the least messages in the hour), as the page labels it.
WINDOW_KINDS = (Kind.PERSON_BURST, Kind.SUPPRESSED)
# A person's (and a workflow's suppressed) messages are forgotten PERSON_TTL seconds after the last one: a longer
# window would count fewer than it says.
MAX_WINDOW = PERSON_TTL
# WatchRule.minimum is an integer column: 32 bits in PostgreSQL.
MAX_MINIMUM = 2**31 - 1

# What each kind's threshold counts, as its messages and help name it.
THRESHOLD_UNITS = {
    Kind.PERSON_BURST: "messages to one person",
    Kind.VOLUME: "times the usual hourly volume",
    Kind.SUPPRESSED: "messages to suppressed addresses",
    Kind.COMPLAINTS: "a percent of the hour's messages",
}


def threshold_help(kind: str) -> str:
    most = number_shown(THRESHOLD_MAX[kind])
    if kind in COUNT_KINDS:
        return f"The {THRESHOLD_UNITS[kind]} it allows: a whole number from 0 to {most}."
    return f"{THRESHOLD_UNITS[kind].capitalize()}: from 0 to {most}, decimals allowed."


def minimum_help(kind: str) -> str:
    if kind in WINDOW_KINDS:
        return f"In seconds, whole minutes from 60 (1 minute) to {MAX_WINDOW:,} ({MAX_WINDOW // 60} minutes)."
    return f"The least messages in the hour before the rule judges: a whole number from 0 to {MAX_MINIMUM:,}."


class RuleForm(forms.Form):
    """One rule's numbers. Its kind is the form's prefix (or initial kind): bounds, steps and help follow it."""

    kind = forms.ChoiceField(choices=WatchRule.Kind.choices, widget=forms.HiddenInput)
    enabled = forms.BooleanField(required=False)
    # Bounds are checked in clean(), by kind, with errors that name the field and the value.
    threshold = forms.FloatField(
        widget=forms.NumberInput(attrs={"min": 0, "step": "any"}),
        error_messages={"required": "Threshold is empty.", "invalid": "Threshold must be a number."},
    )
    minimum = forms.IntegerField(
        widget=forms.NumberInput(attrs={"min": 0, "step": 1}),
        error_messages={
            "required": "Window (seconds) or least messages in the hour is empty.",
            "invalid": "Window (seconds) or least messages in the hour must be a whole number.",
        },
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        kind = self.prefix or self.initial.get("kind")
        if kind not in THRESHOLD_MAX:
            return
        if kind in COUNT_KINDS:
            # A count of messages: "5", never "5.0" or "5.5".
            self.fields["threshold"] = forms.IntegerField(
                widget=forms.NumberInput(attrs={"step": 1}),
                error_messages={
                    "required": "Threshold is empty.",
                    "invalid": f"Threshold ({THRESHOLD_UNITS[kind]}) must be a whole number.",
                },
            )
        threshold = self.initial.get("threshold")
        if threshold is not None and float(threshold).is_integer():
            self.initial["threshold"] = int(threshold)
        self.fields["threshold"].help_text = threshold_help(kind)
        self.fields["threshold"].widget.attrs.update({"min": 0, "max": THRESHOLD_MAX[kind]})
        self.fields["minimum"].help_text = minimum_help(kind)
        if kind in WINDOW_KINDS:
            self.fields["minimum"].widget.attrs.update({"min": 60, "max": MAX_WINDOW, "step": 60})
        else:
            self.fields["minimum"].widget.attrs.update({"min": 0, "max": MAX_MINIMUM})
        for name in ("threshold", "minimum"):
            self.fields[name].widget.attrs["aria-describedby"] = f"{self[name].auto_id}_help"

    def clean(self) -> dict:
        data = super().clean()
        kind, threshold, minimum = data.get("kind"), data.get("threshold"), data.get("minimum")
        if threshold is not None and kind in THRESHOLD_MAX:
            most = THRESHOLD_MAX[kind]
            if kind == Kind.COMPLAINTS and not 0 <= threshold <= most:
                self.add_error(
                    "threshold",
                    "Threshold (a percent of the hour's messages) must be from 0 to 100, "
                    f"not {number_shown(threshold)}.",
                )
            elif threshold < 0:
                self.add_error("threshold", f"Threshold must be 0 or more, not {number_shown(threshold)}.")
            elif threshold > most:
                self.add_error(
                    "threshold",
                    f"Threshold ({THRESHOLD_UNITS[kind]}) must be from 0 to {number_shown(most)}, "
                    f"not {number_shown(threshold)}.",
                )
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
        """Every error, each naming its field and value, in one sentence (for a log or a summary)."""
        return " ".join(message for errors in self.errors.values() for message in errors)


class SwitchForm(forms.Form):
    esp = forms.CharField(max_length=32)
    enabled = forms.BooleanField(required=False)


class DismissForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
