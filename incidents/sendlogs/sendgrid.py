"""SendGrid: the Event Webhook (JSON) and the Email Activity export (CSV), their fields and their words.

https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incidents.vocabulary import EventType

from .records import (
    Event,
    FormatError,
    Rejected,
    address,
    bad_time,
    detail_text,
    epoch,
    no_recipient,
    not_an_object,
    remember,
    text_of,
    unique,
    unknown_event,
    vocabulary_lookup,
)
from .tabular import Columns, any_time, column_key, csv_events, split_list

FORMAT = "sendgrid_json"
LABEL = "SendGrid Event Webhook (JSON)"
MANY = False
CSV_FORMAT = "sendgrid_csv"
CSV_LABEL = "SendGrid Email Activity export (CSV)"

# SendGrid's event names -> ours (the same as django-anymail's SendGrid webhook).
VOCABULARY: dict[str, EventType] = {
    "processed": EventType.QUEUED,
    "dropped": EventType.REJECTED,
    "delivered": EventType.DELIVERED,
    "deferred": EventType.DEFERRED,
    "bounce": EventType.BOUNCED,  # then bounce_class() reads its "type"
    "blocked": EventType.DEFERRED,  # the activity export's word for a bounce of type blocked
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
    "spamreport": EventType.COMPLAINED,
    "unsubscribe": EventType.UNSUBSCRIBED,
    "group_unsubscribe": EventType.UNSUBSCRIBED,
    "group_resubscribe": EventType.SUBSCRIBED,
    # spellings seen in activity exports
    "bounced": EventType.BOUNCED,
    "delivery": EventType.DELIVERED,
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "processed_message": EventType.QUEUED,
    "not_delivered": EventType.DEFERRED,
}


def bounce_class(bounce_type: Any) -> tuple[EventType, bool]:
    """A SendGrid `bounce` event by its "type": (our event type, hard = the address itself is bad).

    The docs: type "bounce" is a hard bounce (the receiving server says the address does not exist);
    "blocked" means the server refused the message (reputation, content, a blocklist): not the address,
    so it is deferred and nobody is suppressed.  A bounce without a type (old payloads) is a bounce.
    """
    kind = text_of(bounce_type).lower()
    if kind in ("blocked", "block", "expired"):
        return EventType.DEFERRED, False
    return EventType.BOUNCED, True


def looks_like(obj: dict[str, Any]) -> bool:
    return "sg_event_id" in obj or "sg_message_id" in obj or ("event" in obj and "email" in obj and "timestamp" in obj)


def convert(ref: int, obj: Any) -> Event | Rejected:
    # The benchmark's hot path (a million records): the common case is written
    # out inline; anything unusual goes through the general helpers.
    if obj.__class__ is not dict:
        return not_an_object(ref, obj)
    get = obj.get
    raw = get("email")
    recipient = raw.strip().lower() if raw.__class__ is str else ""
    if "<" in recipient:
        recipient = address(raw)
    if "@" not in recipient:
        return Rejected(ref, no_recipient(raw, "field 'email'"))
    kind = get("event")
    event = VOCABULARY.get(kind) if kind.__class__ is str else None
    if event is None:
        event = vocabulary_lookup(VOCABULARY, kind)
        if event is None:
            return Rejected(ref, unknown_event(kind, "field 'event'"))
    stamp = get("timestamp")
    when = _TIMES.get(stamp) if stamp.__class__ is int else None
    if when is None:
        when = epoch(stamp)
        if when is None:
            return Rejected(ref, bad_time(stamp, "field 'timestamp'"))
        if stamp.__class__ is int:
            remember(_TIMES, stamp, when)
    detail = ""
    if kind == "bounce":
        event, hard = bounce_class(get("type"))
        detail = detail_text("hard" if hard else text_of(get("type")) or "soft", get("reason"))
    elif event is _DEFERRED:
        detail = detail_text("", get("response") or get("reason"))
    elif event is _REJECTED:
        detail = detail_text("", get("reason"))
    message_id = get("sg_message_id")
    cut = message_id.find(".filter") if message_id.__class__ is str else -1
    message_id = message_id[:cut] if cut > 0 else message_id_of(message_id, get("smtp-id"))
    event_id = get("sg_event_id")
    if event_id.__class__ is not str:
        event_id = text_of(event_id)
    category = get("category")
    key = (
        tuple(category) if category.__class__ is list else category,
        get("marketing_campaign_id"),
        get("marketing_campaign_name"),
    )
    try:
        workflows = _SG_WORKFLOWS.get(key)
    except TypeError:  # an odd, unhashable value: work it out without the memo
        workflows = _workflows(key)
    if workflows is None:
        workflows = remember(_SG_WORKFLOWS, key, _workflows(key))
    return Event(recipient, raw, when, event, message_id, workflows, event_id, detail, ref)


def message_id_of(sg_message_id: Any, smtp_id: Any) -> str:
    # The docs: "The first half of this ID is pulled from the smtp-id"; the rest
    # (".filter0001.16648.5515E0B88.0", ".stfilter-015...") varies by event.  Old
    # ids look like "14c5d75ce93.dfd.64b469.filter..." where the part before the
    # first "." is a millisecond clock, so cutting there would merge messages.
    if sg_message_id.__class__ is str and sg_message_id:
        cut = sg_message_id.find(".filter")
        if cut < 0:
            cut = sg_message_id.find(".stfilter")
        return sg_message_id[:cut] if cut > 0 else sg_message_id.partition(".")[0]
    # Async bounces carry no sg_message_id; the smtp-id's local part is the same first half.
    smtp = text_of(smtp_id).strip("<>")
    return smtp.partition("@")[0] if "@" in smtp else smtp


def _workflows(key: tuple[Any, Any, Any]) -> tuple[str, ...]:
    category, campaign_id, campaign = key
    found = list(category) if category.__class__ is tuple else [category]
    return unique([*found, campaign_id, campaign])


_TIMES: dict[int, datetime] = {}
# Enum attribute lookups cost on the hot path; look them up once.
_DEFERRED, _REJECTED = EventType.DEFERRED, EventType.REJECTED
_SG_WORKFLOWS: dict[tuple[Any, Any, Any], tuple[str, ...]] = {}


# ---------------------------------------------------------------------------
# The Email Activity export (CSV)

# Accepted spellings of the export's columns, after column_key().
CSV_COLUMNS = {
    "recipient": {"email", "to_email", "recipient", "to", "email_address"},
    "time": {"processed", "processed_at", "timestamp", "time", "date", "event_time", "last_event_time"},
    "message_id": {"message_id", "msg_id", "sg_message_id", "smtp_id", "smtp-id"},
    "event": {"event", "event_name", "event_type", "status"},
    "workflows": {"categories", "category", "marketing_campaign_id", "marketing_campaign_name", "template_id"},
    "details": {"reason", "response"},
    "bounce_type": {"type", "bounce_type"},
    "event_id": {"sg_event_id", "event_id"},
}


def csv_looks_like(names: set[str]) -> bool:
    return bool(names & CSV_COLUMNS["recipient"] and names & {"processed", "msg_id", "sg_message_id", "sg_event_id"})


def csv_columns(header: list[str]) -> Columns:
    keys = [column_key(name) for name in header]

    def first(kind: str) -> int | None:
        return next((i for i, key in enumerate(keys) if key in CSV_COLUMNS[kind]), None)

    def every(kind: str) -> tuple[int, ...]:
        return tuple(i for i, key in enumerate(keys) if key in CSV_COLUMNS[kind])

    recipient, time, event = first("recipient"), first("time"), first("event")
    if recipient is None or time is None:
        needed = [label for label, at in (("email", recipient), ("processed", time)) if at is None]
        raise_missing(needed)
    return Columns(
        recipient=(recipient, header[recipient]),
        time=(time, header[time]),
        read_time=any_time,
        event=(event, header[event]) if event is not None else None,
        message_id=first("message_id"),
        workflows=every("workflows"),
        details=every("details"),
        bounce_type=first("bounce_type"),
        event_id=first("event_id"),
        vocabulary=VOCABULARY,
        bounce=bounce_class,
        split_workflows=split_list,
        clean_message_id=lambda cell: message_id_of(cell, ""),
    )


def raise_missing(needed: list[str]) -> None:
    raise FormatError(
        f"This CSV has no {' or '.join(needed)} column, so it is not a SendGrid Email "
        "Activity export; choose “Other CSV (choose the columns yourself)” and pick the columns."
    )


def parse_csv(stream: Any, *, delimiter: str | None = None, encoding: str = "", **_: Any) -> Any:
    return csv_events(stream, delimiter, CSV_LABEL, csv_columns, encoding=encoding)
