"""Feedback from the ESP and from people: tracking events applied once, inbound replies matched and classified."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apologies import links
from apologies.campaigns.audit import audit_add
from apologies.campaigns.models import Campaign, Recipient
from apologies.campaigns.words import mask_email
from apologies.feedback import classify, tasks
from apologies.feedback.models import DeliveryEvent, Reply, ReplyError
from apologies.sending.models import Delivery
from apologies.wayback.services import delivery_for_unsubscribe_token, unsubscribe
from incidents.auditlog.services import audit_record
from incidents.contacts import suppressions
from incidents.models import Suppression
from incidents.sendlogs import records_from_esp_event
from incidents.sendlogs.records import Event, nul_free
from incidents.vocabulary import EventType

# The delivery's timestamp each event sets.
TRACKED = {
    EventType.DELIVERED: "delivered_at",
    EventType.OPENED: "opened_at",
    EventType.CLICKED: "clicked_at",
    EventType.BOUNCED: "bounced_at",
    EventType.COMPLAINED: "complained_at",
    EventType.UNSUBSCRIBED: "unsubscribed_at",
}
# What an event says about the person (not the message): only these touch the suppression list.
SUPPRESSES = {
    EventType.BOUNCED: Suppression.Reason.HARD_BOUNCE,
    EventType.COMPLAINED: Suppression.Reason.COMPLAINED,
    EventType.UNSUBSCRIBED: Suppression.Reason.UNSUBSCRIBED,
}
PERSON_STATES = {*SUPPRESSES, EventType.SUBSCRIBED}


def tracking_meaning(*, esp_name: str, esp_event, anymail_type: str) -> tuple[str, str]:
    """(event type of the message, what it says about the person or "") by the rule imports use.

    anymail calls a Postmark soft bounce or a SendGrid "blocked" bounce `bounced`; the ESP meant a
    temporary or sender-side failure. Reading the payload with the same ESP module as an import gives
    one vocabulary and one rule: only an address-level permanent failure is `bounced`.
    See docs/esp-bounces.md. ESPs Amends has no module for keep anymail's reading.
    """
    try:
        records = [r for r in records_from_esp_event(esp_name, esp_event) if isinstance(r, Event)]
    except KeyError:
        records = []
    except Exception:  # noqa: BLE001 - a payload our reader cannot place keeps anymail's reading
        records = []
    if not records:
        return anymail_type, anymail_type if anymail_type in PERSON_STATES else ""
    message = next((r for r in records if r.message_id), records[0])
    state = next((r.event for r in records if r.event in PERSON_STATES), "")
    return message.event, state


def tracking_receive(*, event, esp_name: str) -> DeliveryEvent | None:
    """Keep the event, once: the ESP retries webhooks. The work happens in a task."""

    when = event.timestamp or timezone.now()
    key = (
        event.event_id
        or hashlib.sha256(
            f"{esp_name}|{event.message_id}|{event.recipient}|{event.event_type}|{when.isoformat()}".encode()
        ).hexdigest()
    )
    metadata = event.metadata or {}
    delivery_id = str(metadata.get("delivery_id", ""))
    delivery = Delivery.objects.filter(id=int(delivery_id)).first() if delivery_id.isdigit() else None
    if delivery is None and event.message_id and event.recipient:
        delivery = (
            Delivery.objects.filter(esp_message_id=event.message_id, email=(event.recipient or "").lower())
            .order_by("-id")
            .first()
        )
    try:
        raw = json.loads(json.dumps(event.esp_event, default=str))
    except (TypeError, ValueError):
        raw = {"unreadable": str(event.esp_event)[:2000]}
    # A NUL in the payload would fail the request (PostgreSQL's text and jsonb cannot hold one) and the ESP would
    # retry it for days: what the event says is kept, each NUL shown as U+FFFD.
    raw = nul_free(raw)
    event_type, person_state = tracking_meaning(
        esp_name=esp_name, esp_event=event.esp_event, anymail_type=event.event_type
    )
    stored, created = DeliveryEvent.objects.get_or_create(
        esp_event_id=nul_free(f"{esp_name}:{key}"[:255]),
        defaults={
            "delivery": delivery,
            "event_type": event_type,
            "person_state": person_state,
            "recipient": nul_free((event.recipient or "").lower()[:254]),
            "message_id": nul_free((event.message_id or "")[:255]),
            "occurred_at": when,
            "description": nul_free((event.description or event.mta_response or "")[:500]),
            "raw": raw if isinstance(raw, dict) else {"event": raw},
        },
    )
    if not created:
        return None

    transaction.on_commit(lambda: tasks.apply_tracking_event.delay(stored.id))
    return stored


def tracking_apply(*, event_id: int) -> bool:
    """Act on one stored event, once, whoever runs it."""
    if DeliveryEvent.objects.filter(id=event_id, applied=False).update(applied=True) != 1:
        return False
    event = DeliveryEvent.objects.select_related("delivery").get(id=event_id)
    field = TRACKED.get(event.event_type)
    if field and event.delivery_id:
        Delivery.objects.filter(id=event.delivery_id, **{f"{field}__isnull": True}).update(**{field: event.occurred_at})
    if not event.recipient:
        return True
    esp = event.esp_event_id.split(":", 1)[0]
    if event.person_state in SUPPRESSES:
        # A hard bounce, a complaint or an unsubscribe stops email to the address, matched or not.
        suppressions.suppression_add(
            email=event.recipient,
            reason=SUPPRESSES[event.person_state],
            source=f"{esp} webhook: {event.person_state} ({event.event_type})",
        )
    elif event.person_state == EventType.SUBSCRIBED:
        # They subscribed again at the ESP: lift what an unsubscribe put there, nothing else.
        suppressions.suppression_lift(
            email=event.recipient, reason=Suppression.Reason.UNSUBSCRIBED, source=f"{esp} webhook: subscribed"
        )
    return True


def _addresses(message, field: str) -> list[str]:
    # Not lower-cased: the signed part of reply+… and unsubscribe+… addresses is case-sensitive.
    return [a.addr_spec for a in (getattr(message, field, None) or []) if getattr(a, "addr_spec", "")]


def _message_ids(header: str) -> set[str]:
    ids = set()
    for part in (header or "").replace(",", " ").split():
        part = part.strip()
        if part:
            ids.add(part)
            ids.add(part.strip("<>"))
            ids.add(f"<{part.strip('<>')}>")
    return ids


def reply_receive(*, message) -> Reply | None:
    """An email answer to an apology: match it to its delivery, classify it, act on "never again"."""

    recipients = _addresses(message, "to") + _addresses(message, "cc")
    envelope = getattr(message, "envelope_recipient", "") or ""
    if envelope:
        recipients.append(envelope)
    for address in recipients:
        local = address.split("@", 1)[0]
        if local.startswith("unsubscribe+"):
            # The mailto: half of List-Unsubscribe.
            delivery = delivery_for_unsubscribe_token(local[len("unsubscribe+") :])
            if delivery:
                unsubscribe(delivery=delivery, source="mailto")
            return None
    sender = message.from_email.addr_spec.lower() if getattr(message, "from_email", None) else ""
    delivery, matched_by = None, Reply.Match.NONE
    for address in recipients:
        delivery_id = links.delivery_from_reply_address(address)
        if delivery_id:
            delivery = Delivery.objects.filter(id=delivery_id).first()
            if delivery:
                matched_by = Reply.Match.REPLY_TO
                break
    if delivery is None:
        ids = _message_ids(message.get("In-Reply-To", "")) | _message_ids(message.get("References", ""))
        if ids:
            delivery = Delivery.objects.filter(esp_message_id__in=ids).order_by("-id").first()
            matched_by = Reply.Match.REFERENCES if delivery else matched_by
    if delivery is None and sender:
        delivery = Delivery.objects.filter(email=sender).exclude(status=Delivery.Status.QUEUED).order_by("-id").first()
        matched_by = Reply.Match.SENDER if delivery else matched_by
    # A NUL (a broken mailer's) would fail the request and lose the reply: kept, shown as U+FFFD.
    html = nul_free(message.html or "")
    text = nul_free(message.text or "")
    if not text.strip() and html:
        text = classify.html_to_text(html)
    headers = {k: str(v) for k, v in message.items()}
    message_id = nul_free((message.get("Message-ID", "") or "").strip()[:500])
    if message_id:
        seen = Reply.objects.filter(message_id=message_id).first()
        if seen:
            return seen  # a replayed webhook: stored and acted on once already
    reading = classify.classify(subject=message.subject or "", text=text, headers=headers)
    try:
        with transaction.atomic():
            reply = Reply.objects.create(
                campaign=delivery.campaign if delivery else None,
                delivery=delivery,
                channel=Reply.Channel.EMAIL,
                matched_by=matched_by,
                from_email=nul_free(sender[:254]),
                subject=nul_free((message.subject or "")[:500]),
                text=text,
                html=html,
                message_id=message_id,
                kind=reading.kind,
                language=reading.language,
            )
    except IntegrityError:
        # The same reply delivered twice at the same moment: the other request stored it.
        return Reply.objects.get(message_id=message_id)
    if reading.kind == Reply.Kind.NEVER_AGAIN:
        _never_again(reply)
    return reply


def replies_unmatched() -> QuerySet[Reply]:
    """Replies that matched no delivery and nobody dismissed, newest first: no campaign's Replies page shows them."""
    return Reply.objects.filter(campaign__isnull=True, dismissed_at__isnull=True).order_by("-received_at", "-id")


def replies_dismissed() -> QuerySet[Reply]:
    """Unmatched replies staff dismissed (spam, auto-replies, mail about no apology), last dismissed first."""
    return (
        Reply.objects.filter(campaign__isnull=True, dismissed_at__isnull=False)
        .select_related("dismissed_by")
        .order_by("-dismissed_at", "-id")
    )


def recipient_campaigns(*, emails: Iterable[str]) -> dict[str, list[Campaign]]:
    """The campaigns each address is a recipient of, newest first: a lead for a reply that matched no delivery.

    The sender match only takes a delivery that went out, so a person whose apology is still queued (or who
    writes before it is sent) lands unmatched although they are in a campaign's audience.
    """
    found: dict[str, list[Campaign]] = {}
    wanted = {e for e in emails if e}
    if not wanted:
        return found
    for recipient in (
        Recipient.objects.filter(email__in=wanted)
        .select_related("campaign")
        .order_by("-campaign_id")
        .only("email", "campaign__id", "campaign__name")
    ):
        found.setdefault(recipient.email, []).append(recipient.campaign)
    return found


def _never_again(reply: Reply, *, also: Iterable[str] = (), by: AbstractBaseUser | None = None) -> None:
    emails = {e for e in (reply.from_email, reply.delivery.email if reply.delivery else "", *also) if e}
    for email in emails:
        suppressions.suppression_add(
            email=email,
            reason=Suppression.Reason.NEVER_AGAIN,
            source=f"reply: {reply.get_channel_display().lower()}",
            by=by,
        )


def reply_reclassify(*, reply: Reply, kind: str, user) -> None:
    reply.kind = kind
    reply.kind_set_by = user
    reply.save(update_fields=["kind", "kind_set_by"])
    if kind == Reply.Kind.NEVER_AGAIN:
        _never_again(reply)
    if reply.campaign:
        what = f"{mask_email(reply.from_email)}: {reply.get_kind_display()}"
        audit_add(reply.campaign, user, "reply reclassified", what)


def reply_log(*, campaign: Campaign, email: str, channel: str, kind: str, text: str, user) -> Reply:
    """A reply that came by phone or by post, typed in by staff."""
    email = email.strip().lower()
    delivery = campaign.deliveries.filter(email=email).first() if email else None
    reply = Reply.objects.create(
        campaign=campaign,
        delivery=delivery,
        channel=channel,
        matched_by=Reply.Match.STAFF,
        from_email=email,
        text=text,
        kind=kind,
        kind_set_by=user,
    )
    if kind == Reply.Kind.NEVER_AGAIN:
        _never_again(reply)
    audit_add(campaign, user, "reply logged", f"{channel}: {reply.get_kind_display()}")
    return reply


def reply_attach(*, reply: Reply, campaign: Campaign, email: str, user: AbstractBaseUser) -> Reply:
    """Attach an unmatched reply to `campaign` and, when there is one, to its delivery to `email`; returns the reply.

    `email` is the person's address in that campaign ("" for the sender's: people often write from another
    address than the one the apology went to). With no delivery of the campaign to that address the reply is
    attached to the campaign alone (`reply.delivery` is None), as a reply logged by staff may be.
    Afterwards the reply is matched by staff and no longer dismissed, the campaign's audit says who attached it,
    and a never-again reply also suppresses the delivery's address (or the recipient's, before the apology
    went out), not only the sender's.

    Raises ReplyError when the reply already belongs to a campaign: it is no longer unmatched.
    """
    email = (email or reply.from_email).strip().lower()
    delivery = campaign.deliveries.filter(email=email).order_by("-id").first() if email else None
    with transaction.atomic():
        # Conditional, so that two people attaching the same reply at once attach it once.
        attached = Reply.objects.filter(id=reply.id, campaign__isnull=True).update(
            campaign=campaign, delivery=delivery, matched_by=Reply.Match.STAFF, dismissed_at=None, dismissed_by=None
        )
        if not attached:
            current = Reply.objects.select_related("campaign").filter(id=reply.id).first()
            raise ReplyError(
                f"This reply already belongs to the campaign {current.campaign.name}: it is no longer unmatched."
                if current and current.campaign
                else "This reply is gone."
            )
        reply.campaign, reply.delivery, reply.matched_by = campaign, delivery, Reply.Match.STAFF
        reply.dismissed_at, reply.dismissed_by = None, None
        if reply.kind == Reply.Kind.NEVER_AGAIN:
            # A recipient whose apology is not out yet must not get it: their campaign address is suppressed too.
            recipient = [email] if email and campaign.recipients.filter(email=email).exists() else []
            _never_again(reply, also=recipient, by=user)
        to = f"its delivery to {_masked(email)}" if delivery else f"no delivery to {_masked(email)}"
        audit_add(campaign, user, "reply attached", f"{_masked(reply.from_email)}: {reply.get_kind_display()}, {to}")
    return reply


def reply_dismiss(*, reply: Reply, user: AbstractBaseUser) -> None:
    """Dismiss an unmatched reply that is about no apology (spam, an auto-reply, stray mail): nothing is deleted.

    It leaves `replies_unmatched()` and so the navigation's count; `reply_restore` brings it back.
    Raises ReplyError when the reply belongs to a campaign (that campaign's Replies page shows it) or is
    dismissed already.
    """
    now = timezone.now()
    done = Reply.objects.filter(id=reply.id, campaign__isnull=True, dismissed_at__isnull=True).update(
        dismissed_at=now, dismissed_by=user
    )
    if not done:
        current = Reply.objects.filter(id=reply.id).first()
        if current is None:
            raise ReplyError("This reply is gone.")
        if current.campaign_id:
            raise ReplyError("This reply belongs to a campaign: only an unmatched reply can be dismissed.")
        raise ReplyError("This reply is dismissed already.")
    reply.dismissed_at, reply.dismissed_by = now, user
    audit_record(user=user, action="reply.dismissed", target=f"reply {reply.id}", detail=_audit_detail(reply))


def reply_restore(*, reply: Reply, user: AbstractBaseUser) -> None:
    """Bring a dismissed reply back to the unmatched replies (and their count).

    Raises ReplyError when the reply is not dismissed.
    """
    done = Reply.objects.filter(id=reply.id, dismissed_at__isnull=False).update(dismissed_at=None, dismissed_by=None)
    if not done:
        raise ReplyError("This reply is not dismissed: there is nothing to restore.")
    reply.dismissed_at, reply.dismissed_by = None, None
    audit_record(user=user, action="reply.restored", target=f"reply {reply.id}", detail=_audit_detail(reply))


def _masked(email: str) -> str:
    return mask_email(email) if email else "an unknown address"


def _audit_detail(reply: Reply) -> str:
    # Masked, and without the subject, like the campaign audit's entries: the log outlives an erased person.
    return f"{_masked(reply.from_email)}: {reply.get_kind_display()}"
