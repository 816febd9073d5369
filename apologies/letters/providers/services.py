"""Letters through a print-and-mail provider: hand them over once each, verify addresses, apply tracking events.

`provider_letters_start` claims every letter delivery that is neither printed by the mail house nor handed
over yet (a conditional UPDATE from queued), and queues one task per letter. `provider_letter_send` checks
the never-contact list again, asks the provider to verify the address where it offers that, renders the
letter and creates it with the delivery's idempotency key, so a retry after a lost answer finds the same
letter instead of printing a second. Tracking webhooks are stored once per event id and move each letter
forward only (created → mailed → in transit → delivered, or returned to sender), and its delivery with it.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from apologies.campaigns import fingerprint
from apologies.campaigns.audit import audit_add
from apologies.campaigns.models import Campaign, CampaignError, Recipient
from apologies.letters import layout
from apologies.letters.providers import tasks
from apologies.letters.providers.base import Address, ProviderError, Tracking, TrackingEvent
from apologies.letters.providers.models import ProviderEvent, ProviderLetter
from apologies.letters.providers.registry import provider_for
from apologies.sending.models import Delivery
from incidents.models import Suppression

log = logging.getLogger(__name__)

US_LAST_LINE = re.compile(r"^(?P<city>.+?),?\s+(?P<region>[A-Z]{2})\s+(?P<postal>\d{5}(?:-\d{4})?)$")
FORWARD = {kind: n for n, kind in enumerate(Tracking.ORDER)}
STATUS_FOR = {
    Tracking.MAILED: ProviderLetter.Status.MAILED,
    Tracking.IN_TRANSIT: ProviderLetter.Status.IN_TRANSIT,
    Tracking.DELIVERED: ProviderLetter.Status.DELIVERED,
    Tracking.RETURNED: ProviderLetter.Status.RETURNED,
}
OPEN = (ProviderLetter.Status.QUEUED, ProviderLetter.Status.SENDING)


def idempotency_key(delivery: Delivery) -> str:
    return f"amends-delivery-{delivery.id}"


def sender_address(campaign: Campaign) -> Address:
    """The return address of the letter settings, read as name, street line(s) and a last line."""
    ls = layout.letter_settings(campaign)
    lines = layout.sender_lines(ls)
    if len(lines) < 3:
        raise CampaignError("Add the return address (name, street, city line) first: the provider needs it.")
    name, last, street = lines[0], lines[-1], lines[1:-1]
    found = US_LAST_LINE.match(last)
    if found:
        city, region, postal = found["city"], found["region"], found["postal"]
    else:
        postal, _, city = last.partition(" ")  # "10115 Berlin", "75001 Paris"
        region = ""
    return Address(
        name=name,
        line1=street[0],
        line2=" ".join(street[1:]),
        city=city,
        region=region,
        postal_code=postal,
        country=ls.return_country,
    )


def recipient_address(recipient: Recipient) -> Address:
    c = recipient.contact
    return Address(
        name=c.name or recipient.email,
        line1=c.address_line1,
        line2=c.address_line2,
        city=c.city,
        region=c.region,
        postal_code=c.postal_code,
        country=c.country,
    )


def provider_letters_start(*, campaign: Campaign, user, provider: str | None = None) -> int:
    """Hand every letter not yet printed or handed over to the provider; returns how many were queued."""
    provider = provider or settings.AMENDS_LETTER_PROVIDER
    if not provider:
        raise CampaignError("No print-and-mail provider is configured (AMENDS_LETTER_PROVIDER).")
    provider_for(provider)  # a known name
    if campaign.status not in (Campaign.Status.SENDING, Campaign.Status.COMPLETED):
        raise CampaignError(
            f"Letters go out once sending has started and while it runs; this one is {campaign.status}."
        )
    changed = fingerprint.changed_parts(campaign=campaign, recipients=False)
    if changed:
        raise CampaignError(
            f"Not sent: {', '.join(changed)} changed since the approval. An approver has to look again."
        )
    sender_address(campaign)
    with transaction.atomic():
        pending = campaign.deliveries.filter(
            channel=Recipient.Channel.LETTER,
            status=Delivery.Status.QUEUED,
            letter__isnull=True,
            provider_letter__isnull=True,
        )
        ids = list(pending.values_list("id", flat=True))
        now = timezone.now()
        claimed = Delivery.objects.filter(id__in=ids, status=Delivery.Status.QUEUED).update(
            status=Delivery.Status.SENDING, claim=f"provider:{provider}", claimed_at=now
        )
        ProviderLetter.objects.bulk_create(
            [
                ProviderLetter(
                    delivery_id=i, campaign=campaign, provider=provider, idempotency_key=f"amends-delivery-{i}"
                )
                for i in ids
            ],
            ignore_conflicts=True,
        )
        audit_add(campaign, user, "letters to the provider", f"{claimed} letters queued for {provider}")
        for delivery_id in ids:
            transaction.on_commit(lambda d=delivery_id: tasks.send_provider_letter.delay(d))
    return claimed


def provider_letter_send(*, delivery_id: int, provider=None) -> str:
    """Hand one letter over; returns its status, or "retry" when the provider may take it later."""
    now = timezone.now()
    # Only the task that moves the letter from queued owns it: a duplicate task finds nothing to do.
    if not ProviderLetter.objects.filter(delivery_id=delivery_id, status=ProviderLetter.Status.QUEUED).update(
        status=ProviderLetter.Status.SENDING, claimed_at=now
    ):
        return "taken"
    letter = ProviderLetter.objects.select_related("delivery__recipient__contact", "campaign").get(
        delivery_id=delivery_id
    )
    delivery = letter.delivery
    provider = provider or provider_for(letter.provider)
    if Suppression.objects.filter(email=delivery.email, reason=Suppression.Reason.NEVER_AGAIN).exists():
        return _finish(letter, ProviderLetter.Status.FAILED, Delivery.Status.SKIPPED, "asked never to be contacted")
    if delivery.recipient.contact is None:
        return _finish(letter, ProviderLetter.Status.FAILED, Delivery.Status.FAILED, "no postal address")
    to = recipient_address(delivery.recipient)
    try:
        if settings.AMENDS_PROVIDER_VERIFY and not letter.verification:
            verdict = provider.verify(to)
            if verdict is not None:
                letter.verification = verdict.verdict[:40]
                ProviderLetter.objects.filter(id=letter.id).update(verification=letter.verification)
                if not verdict.deliverable:
                    why = f"{letter.provider} says the address is {verdict.verdict or 'not deliverable'}"
                    return _finish(letter, ProviderLetter.Status.UNDELIVERABLE, Delivery.Status.FAILED, why)
        pdf = layout.letter_preview(recipient=delivery.recipient)
        sent = provider.send(
            key=letter.idempotency_key,
            to=to,
            sender=sender_address(letter.campaign),
            pdf=pdf,
            description=f"{letter.campaign.name} #{delivery.id}",
            metadata={"delivery_id": delivery.id, "campaign_id": letter.campaign_id},
        )
    except ProviderError as e:
        attempts = letter.attempts + 1
        if e.retry and attempts < settings.AMENDS_SEND_MAX_ATTEMPTS:
            ProviderLetter.objects.filter(id=letter.id, status=ProviderLetter.Status.SENDING).update(
                status=ProviderLetter.Status.QUEUED, attempts=attempts, error=str(e)[:500]
            )
            return "retry"
        return _finish(letter, ProviderLetter.Status.FAILED, Delivery.Status.FAILED, str(e))
    ProviderLetter.objects.filter(id=letter.id).update(
        status=ProviderLetter.Status.CREATED,
        provider_id=sent.provider_id,
        expected_delivery=sent.expected_delivery,
        attempts=letter.attempts + 1,
        error="",
    )
    Delivery.objects.filter(id=delivery.id, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.SENT, sent_at=now, esp_message_id=sent.provider_id, error=""
    )
    return ProviderLetter.Status.CREATED


def _finish(letter: ProviderLetter, status: str, delivery_status: str, why: str) -> str:
    ProviderLetter.objects.filter(id=letter.id).update(status=status, error=why[:500])
    Delivery.objects.filter(id=letter.delivery_id, status=Delivery.Status.SENDING).update(
        status=delivery_status, error=why[:500]
    )
    return status


def provider_letters_requeue_stale(*, older_than_seconds: int = 900) -> list[int]:
    """Letters left mid-handover by a dead worker go again: the idempotency key makes that safe."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = list(
        ProviderLetter.objects.filter(status=ProviderLetter.Status.SENDING, claimed_at__lt=cutoff).values_list(
            "delivery_id", flat=True
        )
    )
    ProviderLetter.objects.filter(delivery_id__in=stale, status=ProviderLetter.Status.SENDING).update(
        status=ProviderLetter.Status.QUEUED
    )
    return stale


def provider_event_receive(*, provider: str, body: bytes, headers) -> ProviderEvent | None:
    """Read, check (raises SignatureError), store once and apply a provider's tracking webhook."""
    event = provider_for(provider).tracking_event(body=body, headers=headers)
    if event is None:
        return None
    with transaction.atomic():
        stored, created = ProviderEvent.objects.get_or_create(
            provider=provider,
            event_id=event.event_id,
            defaults={"name": event.name, "kind": event.kind, "occurred_at": event.occurred_at, "raw": event.raw},
        )
        if created:
            letter = provider_event_apply(provider=provider, event=event)
            if letter is not None:
                ProviderEvent.objects.filter(id=stored.id).update(letter=letter)
    return stored


def provider_event_apply(*, provider: str, event: TrackingEvent) -> ProviderLetter | None:
    letters = ProviderLetter.objects.filter(provider=provider)
    letter = letters.filter(provider_id=event.provider_id).first()
    if letter is None and event.delivery_id:
        letter = letters.filter(delivery_id=event.delivery_id).first()
    if letter is None or event.kind not in STATUS_FOR:
        return letter
    current = FORWARD.get(letter.status if letter.status in FORWARD else Tracking.CREATED, 0)
    fields: dict = {}
    if FORWARD[event.kind] > current:
        fields["status"] = STATUS_FOR[event.kind]
    stamp = {Tracking.MAILED: "mailed_at", Tracking.DELIVERED: "delivered_at", Tracking.RETURNED: "returned_at"}
    if event.kind in stamp and getattr(letter, stamp[event.kind]) is None:
        fields[stamp[event.kind]] = event.occurred_at
    if fields:
        ProviderLetter.objects.filter(id=letter.id).update(**fields)
    if event.kind == Tracking.DELIVERED:
        Delivery.objects.filter(id=letter.delivery_id, delivered_at__isnull=True).update(delivered_at=event.occurred_at)
    elif event.kind == Tracking.RETURNED:
        Delivery.objects.filter(id=letter.delivery_id, bounced_at__isnull=True).update(
            bounced_at=event.occurred_at, error="returned to sender"
        )
    return letter


def provider_letters_summary(*, campaigns) -> dict:
    """Letters through a provider, by tracking status: for the results."""
    counts = dict(
        ProviderLetter.objects.filter(campaign__in=campaigns).values_list("status").annotate(n=Count("id")).order_by()
    )
    return {status: counts.get(status, 0) for status, _label in ProviderLetter.Status.choices if counts.get(status)}
