"""What a marketer sees before approval: who reads which plural form, and which code a person is shown."""

from __future__ import annotations

from apologies.campaigns.models import Campaign, Recipient


def plural_forms(*, campaign: Campaign, recipient: Recipient | None = None) -> list[dict]:
    """For each plural-aware placeholder: how many people read the singular and the plural form."""
    people = campaign.recipients.exclude(channel=Recipient.Channel.NONE)
    rows = []
    for name, field in (("emails_received_phrase", "messages"), ("max_in_10_min_phrase", "max_in_10_min")):
        one = people.filter(**{field: 1}).count()
        rows.append(
            {
                "name": name,
                "one": one,
                "many": people.exclude(**{field: 1}).count(),
                "this": None if recipient is None else getattr(recipient, field),
            }
        )
    return rows
