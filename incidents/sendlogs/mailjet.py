"""Mailjet: Event API webhook events (JSON, one event or a batch array), their words and bounce rule.

https://dev.mailjet.com/email/guides/webhooks/
"""

from __future__ import annotations

from typing import Any

from incidents.vocabulary import EventType

from .records import (
    Event,
    Rejected,
    address,
    bad_time,
    detail_text,
    epoch,
    no_recipient,
    not_an_object,
    text_of,
    unique,
    unknown_event,
)

FORMAT = "mailjet"
LABEL = "Mailjet Event API webhooks (JSON)"
MANY = False

# Mailjet's event words -> ours (as django-anymail's Mailjet webhook): "sent" means the receiving server took it.
VOCABULARY: dict[str, EventType] = {
    "sent": EventType.DELIVERED,
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
    "bounce": EventType.BOUNCED,
    "blocked": EventType.REJECTED,
    "spam": EventType.COMPLAINED,
    "unsub": EventType.UNSUBSCRIBED,
}
# "error" values of a bounce that say the address itself is bad (error_related_to "recipient" or "domain").
HARD_ERRORS = {"user unknown", "mailbox inactive", "invalid domain", "no mail host", "bad or inexistent user"}


def bounce_class(hard_bounce: Any, error: Any = "") -> tuple[EventType, bool]:
    """A Mailjet bounce: hard only when Mailjet says hard_bounce and the error is about the address.

    Quota exceeded, greylisting, relay/access denied, spam and policy blocks and timeouts are deferred.
    """
    if hard_bounce is True and text_of(error).lower() in HARD_ERRORS:
        return EventType.BOUNCED, True
    return EventType.DEFERRED, False


def looks_like(obj: dict[str, Any]) -> bool:
    return "mj_campaign_id" in obj or "mj_message_id" in obj or ("MessageID" in obj and "time" in obj)


def convert(ref: int, obj: Any) -> Event | Rejected:
    if obj.__class__ is not dict:
        return not_an_object(ref, obj)
    get = obj.get
    raw = get("email")
    recipient = address(raw)
    if not recipient:
        return Rejected(ref, no_recipient(raw, "field 'email'"))
    kind = get("event")
    event = VOCABULARY.get(kind) if kind.__class__ is str else None
    if event is None:
        return Rejected(ref, unknown_event(kind, "field 'event'"))
    when = epoch(get("time"))
    if when is None:
        return Rejected(ref, bad_time(get("time"), "field 'time'"))
    detail = ""
    if kind == "bounce":
        event, hard = bounce_class(get("hard_bounce"), get("error"))
        detail = detail_text("hard" if hard else "soft", get("error"))
    elif kind == "blocked":
        detail = detail_text("", get("error"))
    campaign = get("mj_campaign_id")
    workflows = unique([get("customcampaign"), campaign if campaign not in (0, "0") else None])
    message_id = text_of(get("MessageID") or get("mj_message_id"))
    return Event(recipient, raw, when, event, message_id, workflows, "", detail, ref)
