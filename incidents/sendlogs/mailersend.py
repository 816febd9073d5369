"""MailerSend: activity webhooks (JSON), their types and bounce rule.

https://developers.mailersend.com/api/v1/webhooks.html
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
    iso,
    no_recipient,
    not_an_object,
    text_of,
    unique,
    unknown_event,
)

FORMAT = "mailersend"
LABEL = "MailerSend activity webhooks (JSON)"
MANY = False

# data.type -> ours (django-anymail's MailerSend webhook, except that a soft bounce is deferred).
VOCABULARY: dict[str, EventType] = {
    "sent": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "soft_bounced": EventType.DEFERRED,
    "hard_bounced": EventType.BOUNCED,
    "opened": EventType.OPENED,
    "opened_unique": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "clicked_unique": EventType.CLICKED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "spam_complaint": EventType.COMPLAINED,
}


def bounce_class(activity: Any) -> tuple[EventType, bool]:
    """A MailerSend bounce by its activity type: hard_bounced is the address, soft_bounced is deferred."""
    if text_of(activity) == "hard_bounced":
        return EventType.BOUNCED, True
    return EventType.DEFERRED, False


def looks_like(obj: dict[str, Any]) -> bool:
    kind = obj.get("type")
    return kind.__class__ is str and kind.startswith("activity.")


def convert(ref: int, obj: Any) -> Event | Rejected:
    if obj.__class__ is not dict:
        return not_an_object(ref, obj)
    data = as_dict(obj.get("data"))
    email = as_dict(data.get("email"))
    raw = as_dict(email.get("recipient")).get("email")
    recipient = address(raw)
    if not recipient:
        return Rejected(ref, no_recipient(raw, "field 'data.email.recipient.email'"))
    kind = data.get("type") or text_of(obj.get("type")).removeprefix("activity.")
    event = VOCABULARY.get(kind) if kind.__class__ is str else None
    if event is None:
        return Rejected(ref, unknown_event(kind, "field 'data.type'"))
    stamp = data.get("created_at") or obj.get("created_at")
    when = iso(stamp)
    if when is None:
        return Rejected(ref, bad_time(stamp, "field 'data.created_at'"))
    detail = ""
    if kind in ("soft_bounced", "hard_bounced"):
        event, hard = bounce_class(kind)
        morph = as_dict(data.get("morph"))
        detail = detail_text("hard" if hard else "soft", morph.get("readable_reason") or morph.get("reason"))
    message_id = text_of(as_dict(email.get("message")).get("id"))
    workflows = unique(as_list(email.get("tags")))
    return Event(recipient, raw, when, event, message_id, workflows, text_of(data.get("id")), detail, ref)
