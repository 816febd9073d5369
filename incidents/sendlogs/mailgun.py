"""Mailgun: events API pages and webhooks (JSON), their words, and the rule for `failed` events.

https://documentation.mailgun.com/docs/mailgun/user-manual/events/event-types
"""

from __future__ import annotations

from typing import Any

from incidents.vocabulary import EventType

from .records import (
    Event,
    Rejected,
    address,
    as_dict,
    as_list,
    bad_time,
    detail_text,
    epoch,
    no_recipient,
    not_an_object,
    text_of,
    unique,
    unknown_event,
)

FORMAT = "mailgun"
LABEL = "Mailgun events or webhooks (JSON)"
MANY = True

# Mailgun's event names -> ours (as django-anymail's Mailgun webhook); `failed` goes through bounce_class().
VOCABULARY: dict[str, EventType] = {
    "accepted": EventType.QUEUED,
    "rejected": EventType.REJECTED,
    "delivered": EventType.DELIVERED,
    "failed": EventType.BOUNCED,
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "complained": EventType.COMPLAINED,
}

# A permanent failure's "reason" -> (event, hard, the person's state it reveals).  Mailgun refuses to send
# to an address on one of its suppression lists (suppress-*): the message never left, and the list says
# why.  Only "bounce" (and "hardfail") are the receiving server saying the address is bad.
PERMANENT_REASONS: dict[str, tuple[EventType, bool, EventType | None]] = {
    "bounce": (EventType.BOUNCED, True, None),
    "hardfail": (EventType.BOUNCED, True, None),
    "suppress-bounce": (EventType.REJECTED, False, EventType.BOUNCED),
    "suppress-unsubscribe": (EventType.REJECTED, False, EventType.UNSUBSCRIBED),
    "suppress-complaint": (EventType.REJECTED, False, EventType.COMPLAINED),
    "old": (EventType.DEFERRED, False, None),  # gave up retrying temporary failures
    "espblock": (EventType.DEFERRED, False, None),  # the receiving ESP blocked the sender
    "generic": (EventType.DEFERRED, False, None),  # unless the SMTP code says the address is bad
}


def bounce_class(severity: Any, reason: Any = "", status_code: Any = None) -> tuple[EventType, bool]:
    """A Mailgun `failed` event: (our event type, hard = suppress the address).

    severity "temporary" is a deferral; "permanent" is a hard bounce only when the reason is about the
    address ("bounce", "hardfail", or "generic" with an SMTP 550/551/553 or a 5.1.x status).
    """
    return failure_class(severity, reason, status_code)[:2]


def failure_class(severity: Any, reason: Any = "", status_code: Any = None) -> tuple[EventType, bool, EventType | None]:
    """bounce_class() plus the person's state a suppress-* reason reveals (or None)."""
    if severity == "temporary":
        return EventType.DEFERRED, False, None
    why = text_of(reason).lower()
    if why == "generic" and _address_code(status_code):
        return EventType.BOUNCED, True, None
    if why in PERMANENT_REASONS:
        return PERMANENT_REASONS[why]
    return (EventType.BOUNCED, True, None) if severity == "permanent" else (EventType.DEFERRED, False, None)


def _address_code(code: Any) -> bool:
    text = text_of(code)
    return text in ("550", "551", "553") or text.startswith("5.1.")


def looks_like(obj: dict[str, Any]) -> bool:
    return "event-data" in obj or "items" in obj or ("event" in obj and "recipient" in obj)


def convert(ref: int, obj: Any) -> list[Event | Rejected]:
    if obj.__class__ is dict and "event-data" in obj:
        obj = obj["event-data"]
    if obj.__class__ is not dict:
        return [not_an_object(ref, obj)]
    if "event" not in obj and obj.get("items").__class__ is list:
        return [result for item in obj["items"] for result in convert(ref, item)]
    get = obj.get
    raw = get("recipient")
    recipient = address(raw)
    if not recipient:
        return [Rejected(ref, no_recipient(raw, "field 'recipient'"))]
    kind = get("event")
    event = VOCABULARY.get(kind) if kind.__class__ is str else None
    if event is None:
        return [Rejected(ref, unknown_event(kind, "field 'event'"))]
    when = epoch(get("timestamp"))
    if when is None:
        return [Rejected(ref, bad_time(get("timestamp"), "field 'timestamp'"))]
    status = as_dict(get("delivery-status"))
    state = None
    label = ""
    if kind == "failed":
        event, hard, state = failure_class(get("severity"), get("reason"), status.get("code"))
        label = "hard" if hard else "soft" if get("severity") == "temporary" else text_of(get("reason")) or "soft"
    detail = ""
    if event in (EventType.BOUNCED, EventType.DEFERRED, EventType.REJECTED):
        reject = as_dict(get("reject"))
        reason = status.get("description") or status.get("message") or reject.get("reason") or get("reason")
        detail = detail_text(label, reason)
    headers = as_dict(as_dict(get("message")).get("headers"))
    variables = as_dict(get("user-variables"))
    campaigns = [c.get("id") if c.__class__ is dict else c for c in as_list(get("campaigns"))]
    workflows = unique([*as_list(get("tags")), *campaigns, *(v for v in variables.values() if v.__class__ is str)])
    message_id = text_of(headers.get("message-id")).strip("<>")
    event_id = text_of(get("id"))
    results = [Event(recipient, raw, when, event, message_id, workflows, event_id, detail, ref)]
    if state is not None:
        # The person's state, apart from the message: it never counts as one received.
        results.append(
            Event(recipient, raw, when, state, "", workflows, f"{event_id}:{state}", detail, ref, revealed=True)
        )
    return results
