"""The words a recipient reads: the default apology, placeholder values, the rendered subject and bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.html import escape, urlize
from django.utils.safestring import mark_safe

from apologies.campaigns import templating
from apologies.campaigns.brand import brand_for
from apologies.campaigns.models import Campaign, CampaignTemplate, Recipient
from apologies.links import public_url, resubscribe_url, unsubscribe_token

# The starting words of every new campaign, in plain files a writer can edit. They use the
# campaign placeholders, not Django template syntax.
DEFAULTS_DIR = Path(settings.BASE_DIR) / "templates" / "apologies" / "default_apology"


def default_words() -> dict[str, str]:
    read = lambda name: (DEFAULTS_DIR / name).read_text(encoding="utf-8")  # noqa: E731
    return {
        "subject": read("subject.txt").strip(),
        "text_body": read("text.txt"),
        "html_body": read("html.html"),
        "letter_body": read("letter.html"),
        "invitation": read("invitation.txt").strip(),
    }


def mask_email(email: str) -> str:
    """j***@example.com: enough for the person to recognise, not enough to read someone's address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def count_phrase(n: int, singular: str = "email", plural: str = "emails") -> str:
    """ "1 email", "25 emails": the number with the word in the form it needs."""
    return f"{n:,} {singular if n == 1 else plural}"


PREVIEW_UNSUBSCRIBE = "/u/(made-for-each-email-when-sending-starts)"


def values_for(
    campaign: Campaign,
    recipient: Recipient,
    template: CampaignTemplate,
    *,
    delivery_id: int | None = None,
    preview: bool = False,
) -> tuple[dict, dict]:
    """The placeholder values for the text parts and for the HTML part (which differ only in the invitation).

    The unsubscribe link names one email (delivery): without one it is empty, or a sample in a preview.
    """
    incident = campaign.incident
    contact = recipient.contact
    brand = brand_for(campaign)
    if delivery_id is not None:
        unsubscribe = public_url("/u/" + unsubscribe_token(delivery_id))
    else:
        unsubscribe = public_url(PREVIEW_UNSUBSCRIBE) if preview else ""
    values = {
        "first_name": contact.first_name if contact else "",
        "last_name": contact.last_name if contact else "",
        "emails_received": str(recipient.messages),
        "emails_received_phrase": count_phrase(recipient.messages),
        "max_in_10_min_phrase": count_phrase(recipient.max_in_10_min),
        "brand_name": brand.name,
        "postal_address": brand.postal_address,
        "unsubscribe_url": unsubscribe,
        "first_received_at": f"{recipient.first_at:%-d %B %Y, %H:%M} UTC",
        "last_received_at": f"{recipient.last_at:%-d %B %Y, %H:%M} UTC",
        "max_in_10_min": str(recipient.max_in_10_min),
        "incident_title": incident.title,
        "incident_date": f"{incident.started_at:%-d %B %Y}",
        "what_happened": incident.what_happened,
        "the_fix": incident.fix,
        "sender_name": campaign.sender_name,
        "resubscribe_url": "",
        "short_code": "",
        "invitation": "",
    }
    html_values = dict(values, invitation=mark_safe(""))
    if recipient.invite_allowed and template.invitation:
        # Only the invitation carries the way back, and only where the country's rule allows it.
        values["resubscribe_url"] = html_values["resubscribe_url"] = resubscribe_url(recipient)
        values["short_code"] = html_values["short_code"] = recipient.short_code
        text = templating.render(template.invitation, values, as_html=False)
        values["invitation"] = text
        html_values["invitation"] = mark_safe(f'<p class="invitation">{urlize(escape(text))}</p>')
    return values, html_values


def tidy_text(text: str) -> str:
    # A left-out invitation must not leave a hole of blank lines in the plain-text email.
    return re.sub(r"\n{3,}", "\n\n", text)


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


def render_for(
    campaign: Campaign,
    recipient: Recipient,
    template: CampaignTemplate | None = None,
    *,
    delivery_id: int | None = None,
    preview: bool = False,
) -> Rendered:
    """One person's subject, text and HTML body (the HTML still without the email layout around it)."""
    template = template or campaign.template_for(recipient)
    text_values, html_values = values_for(campaign, recipient, template, delivery_id=delivery_id, preview=preview)
    return Rendered(
        subject=templating.render(template.subject, text_values, as_html=False),
        text=tidy_text(templating.render(template.text_body, text_values, as_html=False)),
        html=templating.render(template.html_body, html_values, as_html=True) if template.html_body else "",
    )
