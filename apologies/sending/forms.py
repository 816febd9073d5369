"""Forms of sending: pausing with a reason."""

from __future__ import annotations

from django import forms


class PauseForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False)
