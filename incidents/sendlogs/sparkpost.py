"""SparkPost: webhook batches and Events API results (JSON), their event types and bounce classes.

https://developers.sparkpost.com/api/events/ and https://support.sparkpost.com/docs/deliverability/bounce-classification-codes
"""

from __future__ import annotations

from typing import Any

from incidents.vocabulary import EventType

from .records import (
    Event,
    Rejected,
    address,
    as_dict,
    bad_time,
    detail_text,
    no_recipient,
    not_an_object,
    text_of,
    unique,
    unknown_event,
)
from .tabular import any_time

FORMAT = "sparkpost"
LABEL = "SparkPost webhooks or Events API (JSON)"
MANY = False

# SparkPost event types -> ours (django-anymail's SparkPost webhook); bounces go through bounce_class().
VOCABULARY: dict[str, EventType] = {
    "injection": EventType.QUEUED,
    "delivery": EventType.DELIVERED,
    "bounce": EventType.BOUNCED,
    "out_of_band": EventType.BOUNCED,
    "delay": EventType.DEFERRED,
    "policy_rejection": EventType.REJECTED,
    "generation_failure": EventType.FAILED,
    "generation_rejection": EventType.REJECTED,
    "spam_complaint": EventType.COMPLAINED,
    "open": EventType.OPENED,
    "initial_open": EventType.OPENED,
    "amp_open": EventType.OPENED,
    "amp_initial_open": EventType.OPENED,
    "click": EventType.CLICKED,
    "amp_click": EventType.CLICKED,
    "list_unsubscribe": EventType.UNSUBSCRIBED,
    "link_unsubscribe": EventType.UNSUBSCRIBED,
}
# bounce_class -> (event, hard).  From SparkPost's bounce classification codes: only class 10 (Invalid
# Recipient) and 30 (No RCPT) are Hard; Soft, Block and Undetermined classes are deferred; Admin (25) is
# SparkPost's own policy (never sent); 60/100 are automatic replies; 80/90 are list changes.
BOUNCES: dict[str, tuple[EventType, bool]] = {
    "1": (EventType.DEFERRED, False),  # Undetermined
    "10": (EventType.BOUNCED, True),  # Invalid Recipient
    "20": (EventType.DEFERRED, False),  # Soft Bounce
    "21": (EventType.DEFERRED, False),  # DNS Failure
    "22": (EventType.DEFERRED, False),  # Mailbox Full
    "23": (EventType.DEFERRED, False),  # Too Large
    "24": (EventType.DEFERRED, False),  # Timeout
    "25": (EventType.REJECTED, False),  # Admin Failure (SparkPost's policies, e.g. its suppression list)
    "26": (EventType.REJECTED, False),  # Smart Send Suppression
    "30": (EventType.BOUNCED, True),  # Generic Bounce: No RCPT
    "40": (EventType.DEFERRED, False),  # Generic Bounce
    "50": (EventType.DEFERRED, False),  # Mail Block
    "51": (EventType.DEFERRED, False),  # Spam Block
    "52": (EventType.DEFERRED, False),  # Spam Content
    "53": (EventType.DEFERRED, False),  # Prohibited Attachment
    "54": (EventType.DEFERRED, False),  # Relaying Denied
    "60": (EventType.AUTORESPONDED, False),  # Auto-Reply
    "70": (EventType.DEFERRED, False),  # Transient Failure
    "80": (EventType.SUBSCRIBED, False),  # Subscribe
    "90": (EventType.UNSUBSCRIBED, False),  # Unsubscribe
    "100": (EventType.AUTORESPONDED, False),  # Challenge-Response
}


def bounce_class(bounce_class_code: Any) -> tuple[EventType, bool]:
    """A SparkPost bounce or out-of-band bounce by its bounce_class: (our event type, hard = suppress)."""
    return BOUNCES.get(text_of(bounce_class_code), (EventType.DEFERRED, False))


def _event(obj: dict[str, Any]) -> dict[str, Any]:
    """The event inside a webhook item {"msys": {"message_event": {...}}}, or an Events API result itself."""
    msys = obj.get("msys")
    if msys.__class__ is dict:
        return next((value for value in msys.values() if value.__class__ is dict), {})
    return obj


def looks_like(obj: dict[str, Any]) -> bool:
    return "msys" in obj or ("transmission_id" in obj and "type" in obj) or ("rcpt_to" in obj and "type" in obj)


def convert(ref: int, obj: Any) -> Event | Rejected:
    if obj.__class__ is not dict:
        return not_an_object(ref, obj)
    data = _event(obj)
    get = data.get
    raw = get("raw_rcpt_to") or get("rcpt_to")
    recipient = address(raw)
    if not recipient:
        return Rejected(ref, no_recipient(raw, "field 'rcpt_to'"))
    kind = get("type")
    event = VOCABULARY.get(kind) if kind.__class__ is str else None
    if event is None:
        return Rejected(ref, unknown_event(kind, "field 'type'"))
    when = any_time(text_of(get("timestamp")))
    if when is None:
        return Rejected(ref, bad_time(get("timestamp"), "field 'timestamp'"))
    detail = ""
    if kind in ("bounce", "out_of_band"):
        event, hard = bounce_class(get("bounce_class"))
        detail = detail_text("hard" if hard else f"class {text_of(get('bounce_class'))}", get("raw_reason"))
    elif event in (EventType.DEFERRED, EventType.REJECTED, EventType.FAILED):
        detail = detail_text("", get("raw_reason") or get("reason"))
    metadata = [v for v in as_dict(get("rcpt_meta")).values() if v.__class__ is str]
    workflows = unique([get("campaign_id"), get("template_id"), *metadata])
    message_id = text_of(get("transmission_id")) or text_of(get("message_id"))
    return Event(recipient, raw, when, event, message_id, workflows, text_of(get("event_id")), detail, ref)
