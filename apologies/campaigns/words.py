"""The words a recipient reads: the default apology, placeholder values, the rendered subject and bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape, urlize
from django.utils.safestring import mark_safe

from apologies.campaigns import locales, templating
from apologies.campaigns.brand import brand_for
from apologies.campaigns.models import DEFAULT_SENDER_NAME, Campaign, CampaignTemplate, Recipient
from apologies.links import public_url, resubscribe_url, unsubscribe_token

# The starting words of every new campaign and language variant: Django templates whose sentences are in
# the gettext catalogues, rendered in a language into the campaign placeholder syntax (never template code).
DEFAULTS = "apologies/default_apology/"
DEFAULT_FILES = {
    "subject": "subject.txt",
    "text_body": "text.txt",
    "html_body": "html.html",
    "letter_body": "letter.html",
    "invitation": "invitation.txt",
}


def default_words(language: str = "") -> dict[str, str]:
    """The default apology in `language` (a catalogue's; else the site's default language)."""
    # Each placeholder renders as itself, so the sentences around them are translated whole.
    context = {name: mark_safe(f"{{{{ {name} }}}}") for name in templating.PLACEHOLDERS}
    context["unsubscribe_link"] = mark_safe('<a href="{{ unsubscribe_url }}">')
    context["link_end"] = mark_safe("</a>")
    with translation.override(locales.page_language(language)):
        # What a greeting says where the contact has no first name ("Hi there,", "Dear customer,").
        there = translation.pgettext("greeting without a name, email", "there")
        customer = translation.pgettext("greeting without a name, letter", "customer")
        context["first_name_or_there"] = mark_safe(f'{{{{ first_name or "{there}" }}}}')
        context["first_name_or_customer"] = mark_safe(f'{{{{ first_name or "{customer}" }}}}')
        words = {field: render_to_string(DEFAULTS + name, context) for field, name in DEFAULT_FILES.items()}
    words["subject"] = " ".join(words["subject"].split())
    words["invitation"] = words["invitation"].strip()
    return words


def words_language(campaign: Campaign, template: CampaignTemplate) -> str:
    """The language of a template's words: its variant's, else the campaign's default (what surrounds them)."""
    return locales.page_language(template.language or campaign.default_language)


def sender_name_for(campaign: Campaign, template: CampaignTemplate) -> str:
    """Who signs these words: the variant's own signer, else the campaign's; the untouched default in the words'
    language ("L'équipe"), since "The team" under French words would mix two languages."""
    if template.sender_name:
        return template.sender_name
    if campaign.sender_name == DEFAULT_SENDER_NAME:
        with translation.override(words_language(campaign, template)):
            return translation.gettext(DEFAULT_SENDER_NAME)
    return campaign.sender_name


def mask_email(email: str) -> str:
    """j***@example.com: enough for the person to recognise, not enough to read someone's address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def count_phrase(n: int, language: str = "en", country: str = "") -> str:
    """ "1 email", "25 emails", "2 courriels": the number with the word in the form it needs, in `language`."""
    return locales.emails_phrase(n, language=language, country=country)


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
    language = words_language(campaign, template)
    country = contact.country if contact else ""
    tz = locales.person_zone(contact=contact, campaign=campaign)
    if delivery_id is not None:
        unsubscribe = public_url("/u/" + unsubscribe_token(delivery_id))
    else:
        unsubscribe = public_url(PREVIEW_UNSUBSCRIBE) if preview else ""
    values = {
        "first_name": contact.first_name if contact else "",
        "last_name": contact.last_name if contact else "",
        "emails_received": locales.format_number(recipient.messages, language=language, country=country),
        "emails_received_phrase": count_phrase(recipient.messages, language, country),
        "max_in_10_min_phrase": count_phrase(recipient.max_in_10_min, language, country),
        "brand_name": brand.name,
        "postal_address": brand.postal_address,
        "unsubscribe_url": unsubscribe,
        # In the person's own zone and words, never "UTC": they read their own clock.
        "first_received_at": locales.format_moment(recipient.first_at, language=language, tz=tz, country=country),
        "last_received_at": locales.format_moment(recipient.last_at, language=language, tz=tz, country=country),
        "max_in_10_min": locales.format_number(recipient.max_in_10_min, language=language, country=country),
        "incident_title": incident.title,
        "incident_date": locales.format_day(incident.started_at, language=language, country=country, tz=tz),
        # A variant's own words where it gives them: the incident's are in the campaign's default language.
        "what_happened": template.what_happened or incident.what_happened,
        "the_fix": template.the_fix or incident.fix,
        "sender_name": sender_name_for(campaign, template),
        "resubscribe_url": "",
        "short_code": "",
        "invitation": "",
    }
    html_values = dict(values, invitation=mark_safe(""))
    for name in ("first_name", "last_name"):
        if locales.text_direction(values[name]) == "rtl":
            # An Arabic or Hebrew name inside left-to-right words: its own direction, isolated from theirs.
            html_values[name] = mark_safe(f'<bdi dir="rtl">{escape(values[name])}</bdi>')
    if recipient.invite_allowed and template.invitation:
        # Only the invitation carries the way back, and only where the country's rule allows it.
        values["resubscribe_url"] = html_values["resubscribe_url"] = resubscribe_url(recipient)
        values["short_code"] = html_values["short_code"] = recipient.short_code
        text = templating.render(template.invitation, values, as_html=False)
        values["invitation"] = text
        html_values["invitation"] = mark_safe(f'<p class="invitation" dir="auto">{urlize(escape(text))}</p>')
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
