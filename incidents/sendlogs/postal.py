"""Postal: webhook events (JSON), their names and the rule for failures and bounces.

https://docs.postalserver.io/developer/webhooks
"""

from __future__ import annotations

import re
from typing import Any

from incidents.vocabulary import EventType

from .records import (
    Event,
    Rejected,
    address,
    as_dict,
    bad_time,
    detail_text,
    epoch,
    no_recipient,
    not_an_object,
    text_of,
    unique,
    unknown_event,
)

FORMAT = "postal"
LABEL = "Postal webhook events (JSON)"
MANY = False

# payload.status (message events) -> ours, as django-anymail's Postal webhook; HardFail goes through
# bounce_class().  Without a status: a bounce payload is a bounce, a url payload a click.
VOCABULARY: dict[str, EventType] = {
    "Sent": EventType.DELIVERED,
    "SoftFail": EventType.DEFERRED,
    "HardFail": EventType.BOUNCED,
    "Held": EventType.QUEUED,
    "MessageBounced": EventType.BOUNCED,
    "MessageLinkClicked": EventType.CLICKED,
    "MessageLoaded": EventType.OPENED,
}
# An SMTP reply that says the address itself is bad: 550/551/553 with 5.1.x, or "user unknown"-like text.
_ADDRESS_REPLY = re.compile(
    r"\b5\.1\.[0-9]\b|user unknown|no such user|does not exist|unknown recipient|mailbox unavailable", re.I
)


def bounce_class(status: Any, output: Any = "") -> tuple[EventType, bool]:
    """A Postal failure: (our event type, hard = suppress).  SoftFail is deferred; a HardFail or a bounce
    message is hard only when the receiving server's reply says the address is bad."""
    if text_of(status) == "SoftFail":
        return EventType.DEFERRED, False
    if _ADDRESS_REPLY.search(text_of(output)):
        return EventType.BOUNCED, True
    return EventType.DEFERRED, False


def looks_like(obj: dict[str, Any]) -> bool:
    return "payload" in obj and ("uuid" in obj or "event" in obj) and "timestamp" in obj


def convert(ref: int, obj: Any) -> Event | Rejected:
    if obj.__class__ is not dict:
        return not_an_object(ref, obj)
    payload = as_dict(obj.get("payload"))
    message = as_dict(payload.get("message") or payload.get("original_message"))
    if message.get("direction") == "incoming":
        return Rejected(ref, "event about an incoming message not used")
    raw = message.get("to")
    recipient = address(raw)
    if not recipient:
        return Rejected(ref, no_recipient(raw, "field 'payload.message.to'"))
    kind = obj.get("event")
    if "status" in payload:
        word = payload.get("status")
    elif "bounce" in payload:
        word = "MessageBounced"
    elif "url" in payload:
        word = "MessageLinkClicked"
    else:
        word = kind
    event = VOCABULARY.get(word) if word.__class__ is str else None
    if event is None:
        return Rejected(ref, unknown_event(word, "field 'payload.status'"))
    when = epoch(obj.get("timestamp"))
    if when is None:
        return Rejected(ref, bad_time(obj.get("timestamp"), "field 'timestamp'"))
    detail = ""
    if word in ("SoftFail", "HardFail", "MessageBounced"):
        output = payload.get("output") or as_dict(payload.get("bounce")).get("output") or payload.get("details")
        event, hard = bounce_class(word, output)
        detail = detail_text("hard" if hard else "soft", payload.get("details") or output)
    message_id = text_of(message.get("message_id") or message.get("id"))
    workflows = unique([message.get("tag")])
    return Event(recipient, raw, when, event, message_id, workflows, text_of(obj.get("uuid")), detail, ref)
