"""Handing apology emails to the ESP (django-anymail): batch or one per call, and what each answer means."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests
import urllib3.exceptions
from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import mark_safe

from apologies.campaigns import locales, templating
from apologies.campaigns.brand import brand_for
from apologies.campaigns.models import Campaign, CampaignTemplate, Recipient
from apologies.campaigns.words import Rendered, render_for, values_for, words_language
from apologies.links import public_url, reply_address, unsubscribe_token
from apologies.sending.logs import send_log
from apologies.sending.models import Delivery

log = logging.getLogger(__name__)


# ESPs whose batch API merges per-recipient values into one message body, and their merge syntax.
BATCH_ESPS = {
    "anymail.backends.mailgun.EmailBackend": (1000, "%recipient.{}%"),
    "anymail.backends.sendgrid.EmailBackend": (1000, ":{}"),
}


def batch_size() -> int:
    """Recipients per API call: the ESP's batch size, or 1 where each message is its own call."""
    if settings.AMENDS_ESP_BATCH is False:
        return settings.AMENDS_SINGLE_BATCH_SIZE
    esp = BATCH_ESPS.get(settings.EMAIL_BACKEND)
    return esp[0] if esp else settings.AMENDS_SINGLE_BATCH_SIZE


def uses_batch_api() -> bool:
    return settings.AMENDS_ESP_BATCH is not False and settings.EMAIL_BACKEND in BATCH_ESPS


def headers_for(delivery_id: int) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe and a Reply-To that tells us whose reply it is."""
    token = unsubscribe_token(delivery_id)
    mailto = f"mailto:unsubscribe+{token}@{settings.AMENDS_REPLY_DOMAIN}"
    return {
        "List-Unsubscribe": f"<{public_url('/u/' + token)}>, <{mailto}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Reply-To": reply_address(delivery_id),
    }


@dataclass
class Outcome:
    SENT = "sent"
    RETRY = "retry"  # the ESP certainly did not take it: safe to try again
    FAILED = "failed"  # the ESP refused it for good
    REVIEW = "review"  # the ESP may or may not have it: a person checks before anything is resent

    kind: str
    error: str = ""
    message_ids: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def classify(exc: Exception) -> Outcome:

    if isinstance(exc, AnymailRecipientsRefused):
        return Outcome(Outcome.FAILED, f"refused by the ESP: {exc}")
    status = getattr(exc, "status_code", None)
    if status is not None:
        if status == 429 or status >= 500:
            return Outcome(Outcome.RETRY, f"ESP answered {status}")
        return Outcome(Outcome.FAILED, f"ESP answered {status}: {_describe(exc)}")
    # A connection that never opened sent nothing; a timeout waiting for the answer may have.
    if isinstance(exc, requests.ConnectTimeout) or _refused_connection(exc):
        return Outcome(Outcome.RETRY, f"could not reach the ESP: {type(exc).__name__}")
    return Outcome(Outcome.REVIEW, f"no clear answer from the ESP ({type(exc).__name__}): check its log")


def _refused_connection(exc: Exception) -> bool:

    seen = exc
    while seen is not None:
        if isinstance(seen, urllib3.exceptions.NewConnectionError):
            return True
        seen = (
            seen.__cause__
            or seen.__context__
            or (seen.args[0] if seen.args and isinstance(seen.args[0], Exception) else None)
        )
        if seen is exc:
            break
    return False


def _describe(exc: Exception) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an error without a response must still be described
        text = " ".join(str(a) for a in exc.args)
    return " ".join(text.split())[:300]


def send_deliveries(*, campaign: Campaign, deliveries: list[Delivery]) -> Iterator[tuple[list[Delivery], Outcome]]:
    """Hand claimed deliveries to the ESP, one API call per template variant (or per message)."""

    templates = list(campaign.templates.all())
    groups: dict[int, list[Delivery]] = {}
    for d in deliveries:
        groups.setdefault(campaign.template_for(d.recipient, templates).id, []).append(d)
    by_id = {t.id: t for t in templates}
    connection = get_connection()
    for template_id, group in groups.items():
        template = by_id[template_id]
        if uses_batch_api():
            yield group, _send_batch(connection, campaign, template, group)
        else:
            for d in group:
                yield [d], _send_one(connection, campaign, template, d)


def email_html(campaign: Campaign, subject: str, body_html: str, language: str = "en") -> str:
    """The HTML part: the marketer's words in the branded, responsive, dark-mode readable layout."""
    brand = brand_for(campaign)
    context = {
        "subject": subject,
        "body": mark_safe(body_html),  # built by templating.render, which escaped every value
        "brand_name": brand.name,
        "brand_logo": brand.logo_absolute,
        "brand_color": brand.color,
        "language": language or "en",
        "direction": locales.language_direction(language or "en"),
    }
    return render_to_string("apologies/email/layout.html", context)


def _message(campaign: Campaign, to: list[str], rendered: Rendered, language: str = "") -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=brand_for(campaign).from_header,
        to=to,
    )
    if rendered.html:
        message.attach_alternative(email_html(campaign, rendered.subject, rendered.html, language), "text/html")
    return message


def _send_one(connection, campaign: Campaign, template: CampaignTemplate, delivery: Delivery) -> Outcome:
    rendered = render_for(campaign, delivery.recipient, template, delivery_id=delivery.id)
    message = _message(campaign, [delivery.email], rendered, words_language(campaign, template))
    headers = headers_for(delivery.id)
    message.reply_to = [headers.pop("Reply-To")]
    message.extra_headers.update(headers)
    message.metadata = {"delivery_id": str(delivery.id), "campaign_id": str(campaign.id)}
    message.tags = ["amends-apology"]
    try:
        connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001 - every failure is classified, none may be lost
        send_log(logging.WARNING, "send_failed", campaign=campaign, delivery_ids=[delivery.id], error=repr(exc)[:300])
        return classify(exc)
    return _outcome(message, [delivery])


def _send_batch(connection, campaign: Campaign, template: CampaignTemplate, group: list[Delivery]) -> Outcome:
    fmt = BATCH_ESPS[settings.EMAIL_BACKEND][1]
    keys: dict = {}
    rendered = Rendered(
        subject=templating.to_merge_fields(template.subject, fmt, as_html=False, keys=keys),
        text=templating.to_merge_fields(template.text_body, fmt, as_html=False, keys=keys),
        html=templating.to_merge_fields(template.html_body, fmt, as_html=True, keys=keys) if template.html_body else "",
    )
    message = _message(campaign, [d.email for d in group], rendered, words_language(campaign, template))
    # merge_data makes it one message per address: without it everyone would see everyone.
    message.merge_data = {}
    message.merge_metadata = {}
    message.merge_headers = {}
    for d in group:
        text_values, html_values = values_for(campaign, d.recipient, template, delivery_id=d.id)
        values = templating.merge_values({k: v for k, v in keys.items() if not k[1]}, text_values)
        values.update(templating.merge_values({k: v for k, v in keys.items() if k[1]}, html_values))
        message.merge_data[d.email] = values
        message.merge_metadata[d.email] = {"delivery_id": str(d.id), "campaign_id": str(campaign.id)}
        message.merge_headers[d.email] = headers_for(d.id)
    message.tags = ["amends-apology"]
    try:
        connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001 - every failure is classified, none may be lost
        ids = [d.id for d in group]
        send_log(logging.WARNING, "batch_failed", campaign=campaign, delivery_ids=ids, error=repr(exc)[:300])
        return classify(exc)
    return _outcome(message, group)


def _outcome(message, deliveries: list[Delivery]) -> Outcome:
    status = getattr(message, "anymail_status", None)
    outcome = Outcome(Outcome.SENT)
    for d in deliveries:
        recipient_status = status.recipients.get(d.email) if status is not None else None
        if recipient_status is None:
            outcome.message_ids[d.email] = f"local-{d.id}"
        elif recipient_status.status in ("rejected", "invalid", "failed"):
            outcome.refused[d.email] = f"refused by the ESP ({recipient_status.status})"
        else:
            outcome.message_ids[d.email] = recipient_status.message_id or ""
    return outcome


def send_test(*, campaign: Campaign, recipient: Recipient, to: list[str]) -> None:
    rendered = render_for(campaign, recipient, preview=True)
    rendered.subject = f"[TEST] {rendered.subject}"
    banner = f"TEST: the apology {recipient.email} would receive. Not counted, not sent to them.\n\n"
    rendered.text = banner + rendered.text
    if rendered.html:
        rendered.html = f'<p class="invitation"><strong>{escape(banner)}</strong></p>' + rendered.html
    for address in to:
        message = _message(campaign, [address], rendered)
        message.metadata = {"test": "true", "campaign_id": str(campaign.id)}
        message.send()
