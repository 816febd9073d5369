"""The way back: the personal page, typed codes and their try limits, consent with double opt-in, unsubscribing."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db.models import OuterRef, Subquery
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from apologies import links
from apologies.campaigns import locales
from apologies.campaigns.audit import audit_add
from apologies.campaigns.brand import Brand, brand_for
from apologies.campaigns.models import CODE_ALPHABET, CODE_LENGTH, Campaign, CampaignTemplate, Recipient
from apologies.campaigns.words import mask_email
from apologies.links import VIA_CODE, public_url, sorry_recipient_id
from apologies.sending.esp import email_html
from apologies.sending.models import Delivery
from apologies.wayback.models import Consent
from incidents.contacts import suppressions
from incidents.contacts.languages import language_code
from incidents.models import Suppression


def delivery_for_unsubscribe_token(token: str) -> Delivery | None:
    delivery_id = links.delivery_from_unsubscribe_token(token)
    if delivery_id is None:
        return None
    return (
        Delivery.objects.filter(id=delivery_id)
        .select_related("campaign", "recipient__campaign", "recipient__contact")
        .first()
    )


def unsubscribed_already(*, delivery: Delivery) -> bool:
    return Suppression.objects.filter(email=delivery.email, reason=Suppression.Reason.UNSUBSCRIBED).exists()


def unsubscribe_source(*, how: str, campaign_id: int) -> str:
    """The suppression's source of an unsubscribe from a campaign's email; results find the unsubscribes of a
    campaign recorded before its deliveries were stamped by how this ends (`how=""`)."""
    return f"{how} unsubscribe from campaign {campaign_id}"


def unsubscribe(*, delivery: Delivery, source: str) -> None:
    """Unsubscribing is immediate and needs no confirmation: it only ever stops email."""
    suppressions.suppression_add(
        email=delivery.email,
        reason=Suppression.Reason.UNSUBSCRIBED,
        source=unsubscribe_source(how=source, campaign_id=delivery.campaign_id),
    )
    # Stamped on the delivery as an ESP's unsubscribe event is: the campaign's results count it as the
    # apology's outcome, even when the address was on the list already and no suppression was added.
    Delivery.objects.filter(id=delivery.id, unsubscribed_at__isnull=True).update(unsubscribed_at=timezone.now())


def sorry_recipient(token: str) -> Recipient | None:
    recipient_id = sorry_recipient_id(token)
    if recipient_id is None:
        return None
    return Recipient.objects.filter(id=recipient_id).select_related("campaign__incident", "contact").first()


def sorry_page_data(recipient_id: int) -> dict | None:
    """What the personal page shows, in one query: it is the page everyone from a mailing opens."""

    latest = Consent.objects.filter(recipient=OuterRef("pk")).order_by("-created", "-id")
    rows = list(
        Recipient.objects.filter(id=recipient_id)
        .order_by()
        .values(
            "id",
            "email",
            "messages",
            "max_in_10_min",
            "channel",
            "tier",
            "contact__first_name",
            "contact__language",
            "contact__country",
            "contact__time_zone",
            "language",
            "campaign_id",
            "campaign__default_language",
            "campaign__time_zone",
            "campaign__sender_name",
            "campaign__brand_name",
            "campaign__brand_logo",
            "campaign__brand_color",
            "campaign__from_address",
            "campaign__postal_address",
            "campaign__incident__started_at",
            "campaign__incident__what_happened",
            "campaign__incident__fix",
        )
        .annotate(
            earlier_choice=Subquery(latest.values("choice")[:1]),
            earlier_at=Subquery(latest.values("created")[:1]),
            earlier_sent=Subquery(latest.values("confirmation_sent_at")[:1]),
            earlier_confirmed=Subquery(latest.values("confirmed_at")[:1]),
        )[:1]
    )
    return rows[0] if rows else None


def brand_of_row(row: dict) -> Brand:
    """The brand from the campaign columns of sorry_page_data's row (no second query)."""
    campaign = Campaign(
        id=row["campaign_id"],
        sender_name=row["campaign__sender_name"],
        brand_name=row["campaign__brand_name"],
        brand_logo=row["campaign__brand_logo"],
        brand_color=row["campaign__brand_color"],
        from_address=row["campaign__from_address"],
        postal_address=row["campaign__postal_address"],
    )
    return brand_for(campaign)


def consent_latest(*, recipient_id: int) -> Consent | None:
    return Consent.objects.filter(recipient_id=recipient_id).order_by("-created", "-id").first()


def consent_pending(consent: Consent | None) -> bool:
    """A re-signup waiting for the address owner to confirm it from the email."""
    return bool(
        consent
        and consent.choice == Consent.Choice.RESUBSCRIBE
        and consent.confirmation_sent_at
        and not consent.confirmed_at
    )


SORRY_PAGE_SECONDS = 300


# The page in the person's own language (no ?lang=), cached apart from the pages a switch asked for.
PERSON_LANGUAGE = "person"


def person_page_key_language(browser: str) -> str:
    """The cache's name for the page without ?lang=: it follows the browser where the person has no language."""
    return f"{PERSON_LANGUAGE}-{browser}"


def sorry_page_key(recipient_id: int, via: str, language: str) -> str:
    return f"amends:sorry-page:{recipient_id}:{via}:{language}"


def sorry_page_forget(recipient_id: int) -> None:
    """A choice was made: the cached personal page would show an old state (in every language)."""
    languages = locales.page_languages()
    cache.delete_many(
        [
            sorry_page_key(recipient_id, via, language)
            for via in (links.VIA_LINK, links.VIA_CODE)
            for language in (*(person_page_key_language(b) for b in ("", *languages)), *languages)
        ]
    )


def own_language(*, language: str, contact_language: str, default: str) -> str:
    """The person's own language, which their pages open in before the browser's: their contact's, or one chosen
    for them (their country's); "" when their language is only the campaign's default, which says nothing of them."""
    if contact_language or language_code(language) != language_code(default):
        return language
    return ""


def own_language_of(recipient: Recipient) -> str:
    return own_language(
        language=recipient.language,
        contact_language=recipient.contact.language if recipient.contact else "",
        default=recipient.campaign.default_language,
    )


def sorry_page_words(*, row: dict, language: str) -> dict[str, tuple[str, str]]:
    """What happened and the fix as the personal page shows them, each with the language it is written in: the words
    of the campaign's variant in the page's language where it gives its own, else the incident's (which are in the
    campaign's default language). `row` is sorry_page_data's."""
    default = language_code(row["campaign__default_language"]) or "en"
    # The variant the person would be written to in this language, as Campaign.template_for picks it.
    languages = [language, ""] if language == default else [language]
    found = {
        (t["language"], t["tier"]): t
        for t in CampaignTemplate.objects.filter(campaign_id=row["campaign_id"], language__in=languages).values(
            "language", "tier", "what_happened", "the_fix"
        )
    }
    keys = [(code, tier) for code in languages for tier in (row["tier"], CampaignTemplate.ANY_TIER)]
    variant = next((found[key] for key in keys if key in found), {})
    words = {}
    for name, incident_words in (
        ("what_happened", row["campaign__incident__what_happened"]),
        ("the_fix", row["campaign__incident__fix"]),
    ):
        own = variant.get(name) or ""
        words[name] = (own, language) if own else (incident_words, default)
    return words


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


def code_blank(typed: str) -> bool:
    """Nothing that could be a code was typed: no letter or digit at all."""
    return not any(ch.isalnum() for ch in typed)


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


def code_tries_key(ip: str) -> str:
    return f"amends:codetries:{ip}"


def code_tries_left(ip: str) -> int:
    return max(0, settings.AMENDS_CODE_TRIES - (cache.get(code_tries_key(ip)) or 0))


def code_try_take(ip: str) -> bool:
    """Take one try from this address's window, atomically (cache add + incr); False once they are used up.

    Counted before the code is looked up, so parallel guesses cannot all pass a check made before any was counted.
    """
    key = code_tries_key(ip)
    for _ in range(3):
        cache.add(key, 0, timeout=settings.AMENDS_CODE_TRIES_WINDOW)
        try:
            return cache.incr(key) <= settings.AMENDS_CODE_TRIES
        except ValueError:  # the window ran out between add and incr: start a new one
            continue
    return False


def code_try_give_back(ip: str) -> None:
    """A right code costs no try."""
    try:
        cache.decr(code_tries_key(ip))
    except ValueError:
        pass


def consent_text(choice: str, masked: str, brand: str | None = None, language: str = "") -> str:
    """The exact words next to the button, in `language` (the page's; else the active one); stored with the
    consent as evidence of what was agreed."""
    values = {"brand": brand or settings.AMENDS_BRAND_NAME, "email": masked}
    with translation.override(locales.page_language(language or translation.get_language() or "")):
        texts = {
            Consent.Choice.RESUBSCRIBE: translation.gettext(
                "Yes, send emails from %(brand)s to %(email)s again. I can unsubscribe at any time."
            ),
            Consent.Choice.STAY: translation.gettext("No thanks: keep %(email)s unsubscribed from %(brand)s's emails."),
            Consent.Choice.NEVER: translation.gettext("Never contact %(email)s again, by email or by post."),
        }
    return texts[choice] % values


def consent_via(*, recipient: Recipient, arrived: str) -> str:
    """How the person arrived, as the consent records it; `arrived` comes from the signed token only."""
    if arrived == VIA_CODE:
        return Consent.Via.LETTER_CODE
    return Consent.Via.LETTER_LINK if recipient.channel == Recipient.Channel.LETTER else Consent.Via.EMAIL_LINK


def consent_record(
    *, recipient: Recipient, choice: str, arrived: str, ip: str | None, user_agent: str, language: str = ""
) -> Consent:
    """Record a choice made on the public page and act on it; a second POST changes nothing.

    `arrived` is read from the signed token of the page (links.sorry_token_read): a code typed by hand always
    needs the confirmation email before anyone is subscribed again, whatever the form sent. `language` is the
    page's, in which the words were shown: they are stored in it (the person's own when not given).
    """
    masked = mask_email(recipient.email)
    via = consent_via(recipient=recipient, arrived=arrived)
    language = locales.page_language(language, recipient.language, recipient.campaign.default_language)
    consent, created = Consent.objects.get_or_create(
        recipient=recipient,
        choice=choice,
        defaults={
            "campaign": recipient.campaign,
            "email": recipient.email,
            "via": via,
            "channel": recipient.channel,
            "text_shown": consent_text(choice, masked, brand_for(recipient.campaign).name, language),
            "language": language,
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


def confirmation_resend(*, consent: Consent) -> bool:
    """Send the confirmation email again for a pending re-signup; False when the last one went out too recently."""
    if not consent_pending(consent):
        return False
    wait = timedelta(seconds=settings.AMENDS_CONFIRM_RESEND_SECONDS)
    updated = Consent.objects.filter(
        id=consent.id, confirmed_at__isnull=True, confirmation_sent_at__lte=timezone.now() - wait
    ).update(confirmation_sent_at=timezone.now())
    if updated:
        send_confirmation(consent=consent)
        sorry_page_forget(consent.recipient_id)
    return bool(updated)


def consent_for_confirm_token(token: str) -> Consent | None:
    consent_id = links.consent_from_confirm_token(token)
    if consent_id is None:
        return None
    return Consent.objects.filter(id=consent_id, choice=Consent.Choice.RESUBSCRIBE).first()


def consent_confirm(*, consent: Consent) -> None:
    if Consent.objects.filter(id=consent.id, confirmed_at__isnull=True).update(confirmed_at=timezone.now()):
        consent.refresh_from_db()
        sorry_page_forget(consent.recipient_id)
        resubscribe_apply(consent=consent)


def resubscribe_apply(*, consent: Consent) -> None:
    """The person asked to hear from us again: lift their 'unsubscribed' suppression (nothing else)."""
    suppressions.suppression_lift(
        email=consent.email, reason=Suppression.Reason.UNSUBSCRIBED, source=f"re-subscribed, consent {consent.id}"
    )
    via = consent.get_via_display().lower()
    audit_add(consent.campaign, None, "re-subscribed", f"{mask_email(consent.email)} via {via}")


def send_confirmation(*, consent) -> None:
    """Double opt-in for a re-signup from a code typed off a letter: the address owner confirms, in the language
    they chose in."""

    with translation.override(locales.page_language(consent.language, consent.campaign.default_language)):
        confirmation_send(consent=consent)


def confirmation_send(*, consent) -> None:
    brand = brand_for(consent.campaign)
    token = links.confirm_token(consent.id)
    context = {
        "brand": brand.name,
        "brand_color": brand.color,
        "on_color": brand.on_color,
        "brand_logo": brand.logo_absolute,
        "postal_address": brand.postal_address,
        "confirm_url": public_url(settings.AMENDS_SORRY_PATH + "confirm/" + token),
    }
    context["confirm_link"] = format_html('<a href="{}">', context["confirm_url"])
    context["link_end"] = mark_safe("</a>")
    message = EmailMultiAlternatives(
        subject=render_to_string("apologies/email/confirm_subject.txt", context).strip(),
        body=render_to_string("apologies/email/confirm.txt", context),
        from_email=f"{brand.name} <{brand.from_address}>",
        to=[consent.email],
    )
    body = render_to_string("apologies/email/confirm.html", context)
    html = email_html(consent.campaign, message.subject, body, translation.get_language())
    message.attach_alternative(html, "text/html")
    message.metadata = {"consent_id": str(consent.id)}
    message.send()
