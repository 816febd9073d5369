"""Forms of the replies inbox: logging a reply that came by phone or post."""

from __future__ import annotations

from django import forms

from apologies.feedback.models import Reply


class ReplyLogForm(forms.Form):
    email = forms.EmailField(required=False, help_text="Whose reply, if known.")
    channel = forms.ChoiceField(choices=[c for c in Reply.Channel.choices if c[0] != Reply.Channel.EMAIL])
    kind = forms.ChoiceField(choices=Reply.Kind.choices)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="What they said.")
