"""Resend: webhook events (JSON), their types, and the bounce rule (Resend passes on Amazon SES's bounce types).

https://resend.com/docs/dashboard/webhooks/event-types
"""

from __future__ import annotations

from typing import Any

from incidents.vocabulary import EventType

from . import ses
from .records import (
    Event,
    Rejected,
    address,
    as_dict,
    as_list,
    bad_time,
    detail_text,
    iso,
    no_recipient,
    not_an_object,
    text_of,
    unique,
    unknown_event,
)

FORMAT = "resend"
LABEL = "Resend webhook events (JSON)"
MANY = True  # an event names every "to" address

VOCABULARY: dict[str, EventType] = {
    "email.sent": EventType.SENT,
    "email.scheduled": EventType.QUEUED,
    "email.delivered": EventType.DELIVERED,
    "email.delivery_delayed": EventType.DEFERRED,
    "email.complained": EventType.COMPLAINED,
    "email.bounced": EventType.BOUNCED,
    "email.opened": EventType.OPENED,
    "email.clicked": EventType.CLICKED,
    "email.failed": EventType.FAILED,
}


def bounce_class(bounce: Any) -> tuple[EventType, bool]:
    """A Resend data.bounce {type, subType, message}: SES's rule on type/subType; without them, the message.

    "Resend has suppressed sending to this address" means it was never sent (rejected); a "hard bounce
    message" is hard; anything else is deferred.
    """
    bounce = as_dict(bounce)
    if bounce.get("type"):
        return ses.bounce_class(bounce.get("type"), bounce.get("subType"))
    message = text_of(bounce.get("message")).lower()
    if "suppressed sending" in message:
        return EventType.REJECTED, False
    if "hard bounce" in message:
        return EventType.BOUNCED, True
    return EventType.DEFERRED, False


def looks_like(obj: dict[str, Any]) -> bool:
    kind = obj.get("type")
    return kind.__class__ is str and kind.startswith("email.") and "data" in obj


def _tags(value: Any) -> list[Any]:
    if value.__class__ is dict:
        return list(value.values())
    return [t.get("value") if t.__class__ is dict else t for t in as_list(value)]


def convert(ref: int, obj: Any) -> list[Event | Rejected]:
    if obj.__class__ is not dict:
        return [not_an_object(ref, obj)]
    kind = obj.get("type")
    event = VOCABULARY.get(kind) if kind.__class__ is str else None
    if event is None:
        return [Rejected(ref, unknown_event(kind, "field 'type'"))]
    data = as_dict(obj.get("data"))
    when = iso(obj.get("created_at"))
    if when is None:
        return [Rejected(ref, bad_time(obj.get("created_at"), "field 'created_at'"))]
    detail = ""
    if kind == "email.bounced":
        event, hard = bounce_class(data.get("bounce"))
        detail = detail_text("hard" if hard else "soft", as_dict(data.get("bounce")).get("message"))
    elif kind == "email.failed":
        detail = detail_text("", as_dict(data.get("failed")).get("reason"))
    workflows = unique(_tags(data.get("tags")))
    message_id = text_of(data.get("email_id"))
    people = as_list(data.get("to")) or [None]
    results: list[Event | Rejected] = []
    for raw in people:
        recipient = address(raw)
        if recipient:
            results.append(Event(recipient, raw, when, event, message_id, workflows, "", detail, ref))
        else:
            results.append(Rejected(ref, no_recipient(raw, "field 'data.to'")))
    return results
