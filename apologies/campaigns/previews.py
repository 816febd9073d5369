"""What a marketer sees before approval: who reads which plural form, and which code a person is shown."""

from __future__ import annotations

from apologies.campaigns import locales
from apologies.campaigns.models import Campaign, Recipient


def plural_forms(*, campaign: Campaign, recipient: Recipient | None = None, language: str = "en") -> list[dict]:
    """For each plural-aware placeholder: how many people read the singular and the plural form, and with a
    recipient, the phrase they read ("392 E-Mails") in `language`, the language of their words."""
    country = recipient.contact.country if recipient is not None and recipient.contact else ""
    people = campaign.recipients.exclude(channel=Recipient.Channel.NONE)
    rows = []
    for name, field in (("emails_received_phrase", "messages"), ("max_in_10_min_phrase", "max_in_10_min")):
        one = people.filter(**{field: 1}).count()
        rows.append(
            {
                "name": name,
                "one": one,
                "many": people.exclude(**{field: 1}).count(),
                "this": None
                if recipient is None
                else locales.emails_phrase(getattr(recipient, field), language=language, country=country),
            }
        )
    return rows
