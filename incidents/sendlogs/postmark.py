"""Postmark: webhook records (JSON), their fields, and what each bounce Type means.

https://postmarkapp.com/developer/webhooks/webhooks-overview
https://postmarkapp.com/developer/api/bounce-api#bounce-types
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from incidents.vocabulary import EventType

from .records import (
    Event,
    Rejected,
    address,
    as_dict,
    bad_time,
    detail_text,
    iso,
    no_recipient,
    not_an_object,
    text_of,
    unique,
    unknown_event,
)

FORMAT = "postmark"
LABEL = "Postmark webhooks (JSON)"
MANY = False

# RecordType -> (our event, the field with its time).  Bounce goes through bounce_class().
VOCABULARY: dict[str, tuple[EventType, str]] = {
    "Delivery": (EventType.DELIVERED, "DeliveredAt"),
    "Bounce": (EventType.BOUNCED, "BouncedAt"),
    "SpamComplaint": (EventType.COMPLAINED, "BouncedAt"),
    "Open": (EventType.OPENED, "ReceivedAt"),
    "Click": (EventType.CLICKED, "ReceivedAt"),
    "SubscriptionChange": (EventType.UNSUBSCRIBED, "ChangedAt"),
}

# Every bounce Type of Postmark's bounce API -> (our event, hard = suppress the address).
# Only HardBounce and BadEmailAddress say the address is bad; blocks, DMARC, virus and spam
# notifications are about the message or the sender; AutoResponder and friends are replies.
# Inactive: true (Postmark deactivated the address) makes any failure hard; see bounce_class().
BOUNCES: dict[str, tuple[EventType, bool]] = {
    "HardBounce": (EventType.BOUNCED, True),
    "Transient": (EventType.DEFERRED, False),
    "Unsubscribe": (EventType.UNSUBSCRIBED, False),
    "Subscribe": (EventType.SUBSCRIBED, False),
    "AutoResponder": (EventType.AUTORESPONDED, False),
    "AddressChange": (EventType.AUTORESPONDED, False),
    "DnsError": (EventType.DEFERRED, False),
    "SpamNotification": (EventType.COMPLAINED, False),
    "OpenRelayTest": (EventType.AUTORESPONDED, False),
    "Unknown": (EventType.DEFERRED, False),
    "SoftBounce": (EventType.DEFERRED, False),
    "VirusNotification": (EventType.DEFERRED, False),
    "ChallengeVerification": (EventType.AUTORESPONDED, False),
    "BadEmailAddress": (EventType.BOUNCED, True),
    "SpamComplaint": (EventType.COMPLAINED, False),
    "ManuallyDeactivated": (EventType.REJECTED, False),
    "Unconfirmed": (EventType.REJECTED, False),
    "Blocked": (EventType.DEFERRED, False),
    "SMTPApiError": (EventType.FAILED, False),
    "InboundError": (EventType.UNKNOWN, False),
    "DMARCPolicy": (EventType.DEFERRED, False),
    "TemplateRenderingFailed": (EventType.FAILED, False),
}
# Failures that Inactive: true turns into a hard bounce (the address is deactivated for bouncing).
_FAILURES = (EventType.DEFERRED,)


def bounce_class(bounce_type: Any, inactive: Any = False) -> tuple[EventType, bool]:
    """A Postmark Bounce record by its Type and Inactive flag: (our event type, hard = suppress the address)."""
    event, hard = BOUNCES.get(text_of(bounce_type), (EventType.DEFERRED, False))
    if inactive is True and event in _FAILURES:
        return EventType.BOUNCED, True
    return event, hard


def looks_like(obj: dict[str, Any]) -> bool:
    return "RecordType" in obj


def convert(ref: int, obj: Any) -> Event | Rejected:
    if obj.__class__ is not dict:
        return not_an_object(ref, obj)
    get = obj.get
    kind = get("RecordType")
    known = VOCABULARY.get(kind) if kind.__class__ is str else None
    if known is None:
        return Rejected(ref, unknown_event(kind, "field 'RecordType'"))
    event, field = known
    raw = get("Recipient") or get("Email")
    recipient = address(raw)
    if not recipient:
        return Rejected(ref, no_recipient(raw, "field 'Recipient'/'Email'"))
    when = iso(get(field))
    if when is None:
        return Rejected(ref, bad_time(get(field), f"field '{field}'"))
    detail = ""
    if kind == "Bounce":
        bounce_type = text_of(get("Type"))
        event, hard = bounce_class(bounce_type, get("Inactive"))
        if event in (EventType.UNKNOWN,):
            return Rejected(ref, f"bounce type {bounce_type!r} not used")
        label = "hard" if hard else "soft" if bounce_type in ("SoftBounce", "Transient", "DnsError") else bounce_type
        detail = detail_text(label, get("Details") or get("Description"))
    elif kind == "SubscriptionChange":
        event, detail = subscription_event(get)
    message_id = text_of(get("MessageID") or get("MessageId"))
    if not message_id.strip("0-"):  # manual suppressions carry a null or all-zero id
        message_id = ""
    metadata = [v for v in as_dict(get("Metadata")).values() if v.__class__ is str]
    workflows = unique([get("Tag"), *metadata, get("MessageStream")])
    event_id = text_of(get("ID")) if kind in ("Bounce", "SpamComplaint") else ""
    return Event(recipient, raw, when, event, message_id, workflows, event_id, detail, ref)


def subscription_event(get: Callable[[str], Any]) -> tuple[EventType, str]:
    """A SubscriptionChange: SuppressSending false is a reactivation (anymail's `subscribed`).

    The docs: an address is suppressed after a hard bounce, a spam complaint, an unsubscribe or a manual
    suppression.  Broadcast streams report bounces only this way, so a HardBounce suppression is a bounce.
    """
    reason = text_of(get("SuppressionReason"))
    if get("SuppressSending") is not True:
        return EventType.SUBSCRIBED, reason
    if reason == "HardBounce":
        return EventType.BOUNCED, "hard"
    if reason == "SpamComplaint":
        return EventType.COMPLAINED, ""
    return EventType.UNSUBSCRIBED, reason
