"""The way back: the personal page, typed codes and their try limits, consent with double opt-in, unsubscribing."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db.models import OuterRef, Subquery
from django.template.loader import render_to_string
from django.utils import timezone

from apologies import links
from apologies.campaigns.audit import audit_add
from apologies.campaigns.models import CODE_ALPHABET, CODE_LENGTH, Recipient
from apologies.campaigns.words import mask_email
from apologies.links import public_url, sorry_recipient_id
from apologies.sending.models import Delivery
from apologies.wayback.models import Consent
from incidents.contacts import suppressions
from incidents.models import Suppression


def delivery_for_unsubscribe_token(token: str) -> Delivery | None:
    delivery_id = links.delivery_from_unsubscribe_token(token)
    if delivery_id is None:
        return None
    return Delivery.objects.filter(id=delivery_id).select_related("campaign").first()


def unsubscribe(*, delivery: Delivery, source: str) -> None:
    """Unsubscribing is immediate and needs no confirmation: it only ever stops email."""
    suppressions.suppression_add(
        email=delivery.email,
        reason=Suppression.Reason.UNSUBSCRIBED,
        source=f"{source} unsubscribe from campaign {delivery.campaign_id}",
    )


def sorry_recipient(token: str) -> Recipient | None:
    recipient_id = sorry_recipient_id(token)
    if recipient_id is None:
        return None
    return Recipient.objects.filter(id=recipient_id).select_related("campaign__incident", "contact").first()


def sorry_page_data(recipient_id: int) -> dict | None:
    """What the personal page shows, in one query: it is the page everyone from a mailing opens."""

    latest = Consent.objects.filter(recipient=OuterRef("pk")).order_by("-created")
    rows = list(
        Recipient.objects.filter(id=recipient_id)
        .order_by()
        .values(
            "id",
            "email",
            "messages",
            "max_in_10_min",
            "channel",
            "contact__first_name",
            "campaign__incident__started_at",
            "campaign__incident__what_happened",
            "campaign__incident__fix",
        )
        .annotate(
            earlier_choice=Subquery(latest.values("choice")[:1]), earlier_at=Subquery(latest.values("created")[:1])
        )[:1]
    )
    return rows[0] if rows else None


SORRY_PAGE_SECONDS = 300


def sorry_page_key(recipient_id: int, via: str) -> str:
    return f"amends:sorry-page:{recipient_id}:{via}"


def sorry_page_forget(recipient_id: int) -> None:
    """A choice was made: the cached personal page would show an old state."""

    cache.delete_many([sorry_page_key(recipient_id, via) for via in ("", "code")])


# Typed from paper: forgive what people misread. None of 0 O 1 I L is ever printed.
LOOK_ALIKES = {
    "0": "DQ",
    "O": "DQ",
    "1": "7JT",
    "I": "7JT",
    "L": "7JT",
    "5": "5S",
    "S": "S5",
    "2": "2Z",
    "Z": "Z2",
    "8": "8B",
    "B": "B8",
    "6": "6G",
    "G": "G6",
    "U": "UV",
    "V": "VU",
}


def code_candidates(typed: str) -> list[str]:
    """Codes the person may have meant: case, spaces and hyphens ignored, look-alikes tried."""
    raw = "".join(ch for ch in typed.upper() if ch.isalnum())
    if len(raw) != CODE_LENGTH:
        return []
    options = [LOOK_ALIKES.get(ch, ch) for ch in raw]
    if any(ch not in CODE_ALPHABET for opts in options for ch in opts if len(opts) == 1):
        return []
    candidates = [""]
    for opts in options:
        candidates = [c + ch for c in candidates for ch in opts if ch in CODE_ALPHABET]
        if len(candidates) > 512:
            candidates = candidates[:512]
    return [f"{c[:4]}-{c[4:]}" for c in candidates]


def code_recipient(typed: str) -> Recipient | None:
    candidates = code_candidates(typed)
    if not candidates:
        return None
    # Codes are unique per campaign; should two campaigns share one, the newest letter wins.
    return (
        Recipient.objects.filter(short_code__in=candidates, channel=Recipient.Channel.LETTER)
        .select_related("campaign__incident", "contact")
        .order_by("-campaign__created", "short_code")
        .first()
    )


def code_tries_left(ip: str) -> int:

    return max(0, settings.AMENDS_CODE_TRIES - (cache.get(f"amends:codetries:{ip}") or 0))


def code_try_failed(ip: str) -> None:

    key = f"amends:codetries:{ip}"
    cache.add(key, 0, timeout=settings.AMENDS_CODE_TRIES_WINDOW)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=settings.AMENDS_CODE_TRIES_WINDOW)


def consent_text(choice: str, masked: str) -> str:
    """The exact words next to the button; stored with the consent as evidence of what was agreed."""
    brand = settings.AMENDS_BRAND_NAME
    return {
        Consent.Choice.RESUBSCRIBE: f"Yes, send emails from {brand} to {masked} again. I can unsubscribe at any time.",
        Consent.Choice.STAY: f"No thanks: keep {masked} unsubscribed from {brand}'s emails.",
        Consent.Choice.NEVER: f"Never contact {masked} again, by email or by post.",
    }[choice]


def consent_record(*, recipient: Recipient, choice: str, via: str, ip: str | None, user_agent: str) -> Consent:
    """Record a choice made on the public page and act on it; a second POST changes nothing."""
    masked = mask_email(recipient.email)
    consent, created = Consent.objects.get_or_create(
        recipient=recipient,
        choice=choice,
        defaults={
            "campaign": recipient.campaign,
            "email": recipient.email,
            "via": via,
            "channel": recipient.channel,
            "text_shown": consent_text(choice, masked),
            "ip": ip,
            "user_agent": user_agent[:500],
        },
    )
    if not created:
        return consent
    sorry_page_forget(recipient.id)
    if choice == Consent.Choice.NEVER:
        suppressions.suppression_add(
            email=recipient.email,
            reason=Suppression.Reason.NEVER_AGAIN,
            source=f"public page, campaign {recipient.campaign_id}",
        )
    elif choice == Consent.Choice.RESUBSCRIBE:
        if via == Consent.Via.LETTER_CODE and settings.AMENDS_DOUBLE_OPT_IN_FOR_CODES:
            # Anyone can type a code from a letter: the address owner confirms by email first.
            send_confirmation(consent=consent)
            Consent.objects.filter(id=consent.id).update(confirmation_sent_at=timezone.now())
            consent.refresh_from_db()
        else:
            resubscribe_apply(consent=consent)
    return consent


def consent_for_confirm_token(token: str) -> Consent | None:
    consent_id = links.consent_from_confirm_token(token)
    if consent_id is None:
        return None
    return Consent.objects.filter(id=consent_id, choice=Consent.Choice.RESUBSCRIBE).first()


def consent_confirm(*, consent: Consent) -> None:
    if Consent.objects.filter(id=consent.id, confirmed_at__isnull=True).update(confirmed_at=timezone.now()):
        consent.refresh_from_db()
        resubscribe_apply(consent=consent)


def resubscribe_apply(*, consent: Consent) -> None:
    """The person asked to hear from us again: lift their 'unsubscribed' suppression (nothing else)."""
    suppressions.suppression_lift(
        email=consent.email, reason=Suppression.Reason.UNSUBSCRIBED, source=f"re-subscribed, consent {consent.id}"
    )
    via = consent.get_via_display().lower()
    audit_add(consent.campaign, None, "re-subscribed", f"{mask_email(consent.email)} via {via}")


def send_confirmation(*, consent) -> None:
    """Double opt-in for a re-signup from a code typed off a letter: the address owner confirms."""

    token = links.confirm_token(consent.id)
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
