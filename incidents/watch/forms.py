"""Forms of the watch page: a rule's numbers, an ESP's switch, a dismissal's note."""

from __future__ import annotations

from django import forms

from .models import WatchRule


class RuleForm(forms.Form):
    kind = forms.ChoiceField(choices=WatchRule.Kind.choices, widget=forms.HiddenInput)
    enabled = forms.BooleanField(required=False)
    threshold = forms.FloatField(min_value=0)
    minimum = forms.IntegerField(min_value=0)


class SwitchForm(forms.Form):
    esp = forms.CharField(max_length=32)
    enabled = forms.BooleanField(required=False)


class DismissForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
