"""Mandrill (Mailchimp Transactional): webhook batches (JSON) and the activity export (CSV), words and bounce rule.

https://mailchimp.com/developer/transactional/docs/webhooks/
"""

from __future__ import annotations

from typing import Any

from incidents.vocabulary import EventType

from .records import (
    Event,
    FormatError,
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
from .tabular import Columns, any_time, column_key, csv_events, split_list

FORMAT = "mandrill"
LABEL = "Mandrill (Mailchimp Transactional) webhooks (JSON)"
MANY = False
CSV_FORMAT = "mandrill_csv"
CSV_LABEL = "Mandrill activity export (CSV)"

# Webhook event words and the export's Status words -> ours.  Hard bounces go through bounce_class().
VOCABULARY: dict[str, EventType] = {
    "send": EventType.SENT,
    "sent": EventType.SENT,
    "deferral": EventType.DEFERRED,
    "deferred": EventType.DEFERRED,
    "hard_bounce": EventType.BOUNCED,
    "bounced": EventType.BOUNCED,
    "soft_bounce": EventType.DEFERRED,
    "softbounced": EventType.DEFERRED,
    "soft-bounced": EventType.DEFERRED,
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
    "spam": EventType.COMPLAINED,
    "unsub": EventType.UNSUBSCRIBED,
    "reject": EventType.REJECTED,
    "rejected": EventType.REJECTED,
    "invalid": EventType.REJECTED,
    "queued": EventType.QUEUED,
    "scheduled": EventType.QUEUED,
}
# msg.bounce_description of a hard bounce -> (event, hard): only a bad mailbox or domain is the address.
BOUNCES: dict[str, tuple[EventType, bool]] = {
    "bad_mailbox": (EventType.BOUNCED, True),
    "invalid_domain": (EventType.BOUNCED, True),
    "mailbox_full": (EventType.DEFERRED, False),
    "general": (EventType.DEFERRED, False),
    "spam_related": (EventType.DEFERRED, False),
    "policy_related": (EventType.DEFERRED, False),
    "unknown": (EventType.DEFERRED, False),
}


def bounce_class(event: Any, bounce_description: Any = "") -> tuple[EventType, bool]:
    """A Mandrill bounce: (our event type, hard = suppress).  A soft bounce is deferred; a hard bounce is
    hard unless its bounce_description says it was about the message (spam, policy, a full mailbox)."""
    if text_of(event) in ("soft_bounce", "soft-bounced", "softbounced"):
        return EventType.DEFERRED, False
    return BOUNCES.get(text_of(bounce_description), (EventType.BOUNCED, True))


def looks_like(obj: dict[str, Any]) -> bool:
    return "msg" in obj and "ts" in obj


def convert(ref: int, obj: Any) -> Event | Rejected:
    if obj.__class__ is not dict:
        return not_an_object(ref, obj)
    get = obj.get
    msg = as_dict(get("msg"))
    raw = msg.get("email") or as_dict(get("reject")).get("email")
    recipient = address(raw)
    if not recipient:
        return Rejected(ref, no_recipient(raw, "field 'msg.email'"))
    kind = get("event") or get("type")
    event = VOCABULARY.get(kind) if kind.__class__ is str else None
    if event is None:
        return Rejected(ref, unknown_event(kind, "field 'event'"))
    when = epoch(get("ts"))
    if when is None:
        return Rejected(ref, bad_time(get("ts"), "field 'ts'"))
    detail = ""
    if kind in ("hard_bounce", "soft_bounce"):
        event, hard = bounce_class(kind, msg.get("bounce_description"))
        label = "hard" if hard else text_of(msg.get("bounce_description")) or "soft"
        detail = detail_text(label, msg.get("diag"))
    elif event in (EventType.DEFERRED, EventType.REJECTED):
        detail = detail_text("", msg.get("diag") or msg.get("reject"))
    metadata = [v for v in as_dict(msg.get("metadata")).values() if v.__class__ is str]
    workflows = unique([*as_list(msg.get("tags")), msg.get("template"), *metadata])
    message_id = text_of(get("_id") or msg.get("_id"))
    return Event(recipient, raw, when, event, message_id, workflows, "", detail, ref)


# The activity export: one row per message, Status gives its outcome.
CSV_COLUMNS = {
    "recipient": {"email_address", "email", "to"},
    "time": {"date", "timestamp", "sent"},
    "event": {"status", "state"},
    "workflows": {"tags", "template", "subaccount"},
    "details": {"bounce_detail", "bounce_description", "diag"},
    "message_id": {"message_id", "_id", "id"},
}


def csv_looks_like(names: set[str]) -> bool:
    return {"email_address", "status", "sender"} <= names or {"email_address", "bounce_detail"} <= names


def csv_columns(header: list[str]) -> Columns:
    keys = [column_key(name) for name in header]

    def first(kind: str) -> int | None:
        return next((i for i, key in enumerate(keys) if key in CSV_COLUMNS[kind]), None)

    recipient, time, event = first("recipient"), first("time"), first("event")
    if recipient is None or time is None:
        raise FormatError(
            "This CSV has no Email Address or Date column, so it is not a Mandrill activity export; "
            "choose “Other CSV (choose the columns yourself)” and pick the columns."
        )
    return Columns(
        recipient=(recipient, header[recipient]),
        time=(time, header[time]),
        read_time=any_time,
        vocabulary=VOCABULARY,
        event=(event, header[event]) if event is not None else None,
        message_id=first("message_id"),
        workflows=tuple(i for i, key in enumerate(keys) if key in CSV_COLUMNS["workflows"]),
        details=tuple(i for i, key in enumerate(keys) if key in CSV_COLUMNS["details"]),
        bounce_type=next((i for i, key in enumerate(keys) if key == "bounce_detail"), None),
        bounce=lambda cell: bounce_class("hard_bounce", cell),
        split_workflows=split_list,
        per_message=True,
    )


def parse_csv(stream: Any, *, delimiter: str | None = None, encoding: str = "", **_: Any) -> Any:
    return csv_events(stream, delimiter, CSV_LABEL, csv_columns, encoding=encoding)
