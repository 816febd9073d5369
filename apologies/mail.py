"""Building apology emails and handing them to the ESP (django-anymail) or the captured outbox."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.html import escape, urlize
from django.utils.safestring import mark_safe

from . import templating
from .models import Campaign, CampaignTemplate, CapturedEmail, Delivery, Recipient

log = logging.getLogger(__name__)

SORRY_SALT = "amends.sorry"
UNSUBSCRIBE_SALT = "amends.unsubscribe"
REPLY_SALT = "amends.reply"
CONFIRM_SALT = "amends.confirm"

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


# Links and addresses that identify a person or a delivery: signed, so they cannot be guessed.


def sorry_token(recipient: Recipient) -> str:
    return signing.dumps(recipient.id, salt=SORRY_SALT, compress=True)


def unsubscribe_token(delivery_id: int) -> str:
    # No ":" in it: it also stands in the local part of the mailto: address.
    return signing.Signer(salt=UNSUBSCRIBE_SALT, sep=".").sign(str(delivery_id))


def delivery_from_unsubscribe_token(token: str) -> int | None:
    try:
        return int(signing.Signer(salt=UNSUBSCRIBE_SALT, sep=".").unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def reply_address(delivery_id: int) -> str:
    signed = signing.Signer(salt=REPLY_SALT, sep=".").sign(str(delivery_id))
    return f"reply+{signed}@{settings.AMENDS_REPLY_DOMAIN}"


def delivery_from_reply_address(address: str) -> int | None:
    local = address.split("@", 1)[0]
    if not local.startswith("reply+"):
        return None
    try:
        return int(signing.Signer(salt=REPLY_SALT, sep=".").unsign(local[len("reply+") :]))
    except (signing.BadSignature, ValueError):
        return None


def public_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def resubscribe_url(recipient: Recipient) -> str:
    return public_url(settings.AMENDS_SORRY_PATH + sorry_token(recipient))


def headers_for(delivery_id: int) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe and a Reply-To that tells us whose reply it is."""
    token = unsubscribe_token(delivery_id)
    mailto = f"mailto:unsubscribe+{token}@{settings.AMENDS_REPLY_DOMAIN}"
    return {
        "List-Unsubscribe": f"<{public_url('/u/' + token)}>, <{mailto}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Reply-To": reply_address(delivery_id),
    }


def values_for(campaign: Campaign, recipient: Recipient, template: CampaignTemplate) -> tuple[dict, dict]:
    """The placeholder values for the text parts and for the HTML part (which differ only in the invitation)."""
    incident = campaign.incident
    contact = recipient.contact
    values = {
        "first_name": contact.first_name if contact else "",
        "last_name": contact.last_name if contact else "",
        "emails_received": str(recipient.messages),
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


def render_for(campaign: Campaign, recipient: Recipient, template: CampaignTemplate | None = None) -> Rendered:
    from .services import template_for

    template = template or template_for(campaign, recipient)
    text_values, html_values = values_for(campaign, recipient, template)
    return Rendered(
        subject=templating.render(template.subject, text_values, as_html=False),
        text=tidy_text(templating.render(template.text_body, text_values, as_html=False)),
        html=templating.render(template.html_body, html_values, as_html=True) if template.html_body else "",
    )


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
    from anymail.exceptions import AnymailRecipientsRefused

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
    import urllib3.exceptions

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
    from .services import template_for

    templates = list(campaign.templates.all())
    groups: dict[int, list[Delivery]] = {}
    for d in deliveries:
        groups.setdefault(template_for(campaign, d.recipient, templates).id, []).append(d)
    by_id = {t.id: t for t in templates}
    connection = get_connection()
    for template_id, group in groups.items():
        template = by_id[template_id]
        if uses_batch_api():
            yield group, _send_batch(connection, campaign, template, group)
        else:
            for d in group:
                yield [d], _send_one(connection, campaign, template, d)


def _message(campaign: Campaign, to: list[str], rendered: Rendered) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=f"{campaign.sender_name} <{settings.AMENDS_FROM_ADDRESS}>",
        to=to,
    )
    if rendered.html:
        message.attach_alternative(rendered.html, "text/html")
    return message


def _send_one(connection, campaign: Campaign, template: CampaignTemplate, delivery: Delivery) -> Outcome:
    message = _message(campaign, [delivery.email], render_for(campaign, delivery.recipient, template))
    headers = headers_for(delivery.id)
    message.reply_to = [headers.pop("Reply-To")]
    message.extra_headers.update(headers)
    message.metadata = {"delivery_id": str(delivery.id), "campaign_id": str(campaign.id)}
    message.tags = ["amends-apology"]
    try:
        connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001 - every failure is classified, none may be lost
        log.warning("send to %s failed: %s", delivery.email, exc)
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
    message = _message(campaign, [d.email for d in group], rendered)
    # merge_data makes it one message per address: without it everyone would see everyone.
    message.merge_data = {}
    message.merge_metadata = {}
    message.merge_headers = {}
    for d in group:
        text_values, html_values = values_for(campaign, d.recipient, template)
        values = templating.merge_values({k: v for k, v in keys.items() if not k[1]}, text_values)
        values.update(templating.merge_values({k: v for k, v in keys.items() if k[1]}, html_values))
        message.merge_data[d.email] = values
        message.merge_metadata[d.email] = {"delivery_id": str(d.id), "campaign_id": str(campaign.id)}
        message.merge_headers[d.email] = headers_for(d.id)
    message.tags = ["amends-apology"]
    try:
        connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001 - every failure is classified, none may be lost
        log.warning("batch of %d failed: %s", len(group), exc)
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
    rendered = render_for(campaign, recipient)
    rendered.subject = f"[TEST] {rendered.subject}"
    banner = f"TEST: the apology {recipient.email} would receive. Not counted, not sent to them.\n\n"
    rendered.text = banner + rendered.text
    if rendered.html:
        rendered.html = (
            f'<p style="background:#fff3e0;padding:8px"><strong>{escape(banner)}</strong></p>' + rendered.html
        )
    for address in to:
        message = _message(campaign, [address], rendered)
        message.metadata = {"test": "true", "campaign_id": str(campaign.id)}
        message.send()


def send_confirmation(*, consent) -> None:
    """Double opt-in for a re-signup from a code typed off a letter: the address owner confirms."""
    from django.template.loader import render_to_string

    token = signing.dumps(consent.id, salt=CONFIRM_SALT)
    context = {
        "brand": settings.AMENDS_BRAND_NAME,
        "confirm_url": public_url(settings.AMENDS_SORRY_PATH + "confirm/" + token),
    }
    message = EmailMultiAlternatives(
        subject=render_to_string("apologies/email/confirm_subject.txt", context).strip(),
        body=render_to_string("apologies/email/confirm.txt", context),
        from_email=f"{settings.AMENDS_BRAND_NAME} <{settings.AMENDS_FROM_ADDRESS}>",
        to=[consent.email],
    )
    message.attach_alternative(render_to_string("apologies/email/confirm.html", context), "text/html")
    message.metadata = {"consent_id": str(consent.id)}
    message.send()


class CapturedEmailBackend(BaseEmailBackend):
    """The embedded default: every email is kept in the database and shown on the Outbox page."""

    def send_messages(self, email_messages) -> int:
        rows = []
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            headers = dict(message.extra_headers)
            if message.reply_to:
                headers["Reply-To"] = ", ".join(message.reply_to)
            rows.append(
                CapturedEmail(
                    to=", ".join(message.to),
                    from_email=message.from_email,
                    subject=message.subject,
                    text=message.body,
                    html=html,
                    headers=headers,
                    metadata=getattr(message, "metadata", None) or {},
                )
            )
        CapturedEmail.objects.bulk_create(rows)
        return len(rows)
