"""Forms of the replies inbox: logging a reply that came by phone or post, attaching one that matched nothing."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms

from apologies.campaigns.models import Campaign
from apologies.feedback.models import Reply


class ReplyLogForm(forms.Form):
    email = forms.EmailField(required=False, help_text="Whose reply, if known.")
    channel = forms.ChoiceField(choices=[c for c in Reply.Channel.choices if c[0] != Reply.Channel.EMAIL])
    kind = forms.ChoiceField(choices=Reply.Kind.choices)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="What they said.")


class ReplyAttachForm(forms.Form):
    """Which campaign an unmatched reply is about, and the person's address in it.

    `cleaned_data` is {"campaign": Campaign, "email": str ("" for the sender's)}. The campaigns the sender is a
    recipient of (`leads`, newest first) come first; any other campaign may be chosen too.
    """

    campaign = forms.TypedChoiceField(coerce=int, label="Campaign")
    email = forms.EmailField(
        required=False,
        label="Their address in that campaign",
        help_text="People often write from another address than the one we wrote to. Blank: the sender's.",
    )

    def __init__(self, *args, leads: Iterable[int] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        lead_ids = list(leads)
        self.campaigns = {
            c.id: c
            for c in Campaign.objects.select_related("incident").only("id", "name", "incident__title").order_by("-id")
        }
        first = [(i, self.label(self.campaigns[i])) for i in lead_ids if i in self.campaigns]
        others = [(i, self.label(c)) for i, c in self.campaigns.items() if i not in set(lead_ids)]
        choices: list = [("", "Choose a campaign")]
        if first:
            choices.append(("Its sender is a recipient of", first))
        if others:
            choices.append(("Other campaigns" if first else "Campaigns", others))
        self.fields["campaign"].choices = choices
        if first:
            self.initial.setdefault("campaign", first[0][0])

    @staticmethod
    def label(campaign: Campaign) -> str:
        # Campaign names repeat across incidents ("Sorry"): the incident tells them apart.
        return f"{campaign.name} · {campaign.incident.title}"

    def clean_campaign(self) -> Campaign:
        return self.campaigns[self.cleaned_data["campaign"]]
