"""Brevo (formerly Sendinblue): transactional and marketing webhook events (JSON), their words and bounce rule.

https://developers.brevo.com/docs/transactional-webhooks
"""

from __future__ import annotations

from typing import Any

from incidents.vocabulary import EventType

from .records import (
    Event,
    Rejected,
    address,
    as_list,
    bad_time,
    detail_text,
    epoch,
    no_recipient,
    not_an_object,
    text_of,
    unique,
    unknown_event,
    vocabulary_lookup,
)

FORMAT = "brevo"
LABEL = "Brevo (Sendinblue) webhook events (JSON)"
MANY = False

# Brevo's event words -> ours (django-anymail's Brevo webhook, except that a soft bounce is deferred and
# "request" is the send itself).
VOCABULARY: dict[str, EventType] = {
    "request": EventType.SENT,
    "sent": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "hard_bounce": EventType.BOUNCED,
    "soft_bounce": EventType.DEFERRED,
    "deferred": EventType.DEFERRED,
    "blocked": EventType.REJECTED,
    "invalid_email": EventType.BOUNCED,
    "error": EventType.FAILED,
    "spam": EventType.COMPLAINED,
    "complaint": EventType.COMPLAINED,
    "opened": EventType.OPENED,
    "unique_opened": EventType.OPENED,
    "proxy_open": EventType.OPENED,
    "unique_proxy_open": EventType.OPENED,
    "click": EventType.CLICKED,
    "unsubscribe": EventType.UNSUBSCRIBED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "list_addition": EventType.SUBSCRIBED,
}
# Bounce words -> (event, hard): a hard bounce and an invalid address are the address itself.
BOUNCES: dict[str, tuple[EventType, bool]] = {
    "hard_bounce": (EventType.BOUNCED, True),
    "invalid_email": (EventType.BOUNCED, True),
    "soft_bounce": (EventType.DEFERRED, False),
    "deferred": (EventType.DEFERRED, False),
    "blocked": (EventType.REJECTED, False),
    "error": (EventType.FAILED, False),
}


def bounce_class(event: Any) -> tuple[EventType, bool]:
    """A Brevo failure by its event word: (our event type, hard = suppress the address)."""
    return BOUNCES.get(text_of(event), (EventType.DEFERRED, False))


def looks_like(obj: dict[str, Any]) -> bool:
    return "ts_epoch" in obj or "ts_event" in obj or ("event" in obj and "email" in obj and "message-id" in obj)


def convert(ref: int, obj: Any) -> Event | Rejected:
    if obj.__class__ is not dict:
        return not_an_object(ref, obj)
    get = obj.get
    raw = get("email")
    recipient = address(raw)
    if not recipient:
        return Rejected(ref, no_recipient(raw, "field 'email'"))
    kind = get("event")
    event = vocabulary_lookup(VOCABULARY, kind)
    if event is None:
        return Rejected(ref, unknown_event(kind, "field 'event'"))
    # ts_epoch (milliseconds) is UTC; ts_event and date follow the account's time zone.
    stamp = get("ts_epoch") or get("ts_event") or get("ts")
    when = epoch(stamp)
    if when is None:
        return Rejected(ref, bad_time(stamp, "field 'ts_epoch'"))
    detail = ""
    if kind in BOUNCES:
        event, hard = bounce_class(kind)
        detail = detail_text("hard" if hard else "soft" if event is EventType.DEFERRED else "", get("reason"))
    tags = as_list(get("tags")) or [get("tag")]
    workflows = unique([*tags, get("camp_id"), get("campaign name")])
    message_id = text_of(get("message-id")).strip("<>")
    event_id = text_of(get("id")) if kind == "request" else ""
    return Event(recipient, raw, when, event, message_id, workflows, event_id, detail, ref)
