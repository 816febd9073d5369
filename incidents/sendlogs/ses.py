"""Amazon SES event publishing (SNS notifications or Firehose NDJSON): fields, words and the bounce rule.

https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
"""

from __future__ import annotations

from typing import Any

import orjson

from incidents.vocabulary import EventType

from .records import (
    Event,
    Rejected,
    address,
    as_dict,
    as_list,
    bad_time,
    detail_text,
    dicts,
    iso,
    no_recipient,
    not_an_object,
    show,
    text_of,
    unique,
    unknown_event,
)

FORMAT = "ses"
LABEL = "Amazon SES events (SNS or Firehose JSON)"
MANY = True  # one record can name several people

# eventType -> (our event, the record's own section).  The same as django-anymail's SES webhook;
# Bounce is then decided by bounce_class().  Rendering Failure: "The email wasn't sent because of a
# template rendering issue": failed, never sent.
VOCABULARY: dict[str, tuple[EventType, str]] = {
    "Send": (EventType.SENT, "send"),
    "Delivery": (EventType.DELIVERED, "delivery"),
    "Bounce": (EventType.BOUNCED, "bounce"),
    "Complaint": (EventType.COMPLAINED, "complaint"),
    "DeliveryDelay": (EventType.DEFERRED, "deliveryDelay"),
    "Reject": (EventType.REJECTED, "reject"),
    "Open": (EventType.OPENED, "open"),
    "Click": (EventType.CLICKED, "click"),
    "Rendering Failure": (EventType.FAILED, "failure"),
    "Subscription": (EventType.UNSUBSCRIBED, "subscription"),
}

# (bounceType, bounceSubType) -> hard?  From the SES docs' bounce types table: only Permanent bounces say
# "remove this address"; Transient ones (mailbox full, message too large, content or attachment rejected)
# may succeed later, and Undetermined is not known to be permanent.
BOUNCES: dict[tuple[str, str], tuple[EventType, bool]] = {
    ("Undetermined", "Undetermined"): (EventType.DEFERRED, False),
    ("Permanent", "General"): (EventType.BOUNCED, True),
    ("Permanent", "NoEmail"): (EventType.BOUNCED, True),
    ("Permanent", "Suppressed"): (EventType.BOUNCED, True),
    ("Permanent", "OnAccountSuppressionList"): (EventType.BOUNCED, True),
    ("Transient", "General"): (EventType.DEFERRED, False),
    ("Transient", "MailboxFull"): (EventType.DEFERRED, False),
    ("Transient", "MessageTooLarge"): (EventType.DEFERRED, False),
    ("Transient", "ContentRejected"): (EventType.DEFERRED, False),
    ("Transient", "AttachmentRejected"): (EventType.DEFERRED, False),
}


# Permanent sub-types where SES never sent the message (the address was already on a suppression list).
SUPPRESSED = ("Suppressed", "OnAccountSuppressionList")


def bounce_class(bounce_type: Any, bounce_sub_type: Any = "") -> tuple[EventType, bool]:
    """An SES Bounce by bounceType/bounceSubType: (our event type, hard = suppress the address)."""
    known = BOUNCES.get((text_of(bounce_type), text_of(bounce_sub_type)))
    if known:
        return known
    return (EventType.BOUNCED, True) if text_of(bounce_type) == "Permanent" else (EventType.DEFERRED, False)


def looks_like(obj: dict[str, Any]) -> bool:
    return (
        "eventType" in obj or "notificationType" in obj or ("Type" in obj and ("Message" in obj or "TopicArn" in obj))
    )


def convert(ref: int, obj: Any) -> list[Event | Rejected]:
    if obj.__class__ is not dict:
        return [not_an_object(ref, obj)]
    if "Type" in obj and "Message" in obj:
        obj = _sns_message(obj, ref)
        if obj.__class__ is Rejected:
            return [obj]
    kind = obj.get("eventType") or obj.get("notificationType")
    if kind.__class__ is not str or kind not in VOCABULARY:
        return [Rejected(ref, unknown_event(kind, "field 'eventType'"))]
    event, part = VOCABULARY[kind]
    section = as_dict(obj.get(part))
    mail = as_dict(obj.get("mail"))
    destination = as_list(mail.get("destination"))
    if kind == "Bounce":
        event, hard = bounce_class(section.get("bounceType"), section.get("bounceSubType"))
        label = "hard" if hard else "soft"
        people = [
            (r.get("emailAddress"), detail_text(label, r.get("diagnosticCode") or section.get("bounceSubType")))
            for r in dicts(section.get("bouncedRecipients"))
        ]
    elif kind == "Complaint":
        feedback = detail_text("", section.get("complaintFeedbackType"))
        people = [(r.get("emailAddress"), feedback) for r in dicts(section.get("complainedRecipients"))]
    elif kind == "Delivery":
        people = [(each, "") for each in as_list(section.get("recipients"))]
    elif kind == "DeliveryDelay":
        detail = detail_text("soft", section.get("delayType"))
        delayed = [r.get("emailAddress") for r in dicts(section.get("delayedRecipients"))]
        people = [(each, detail) for each in delayed or destination]
    else:
        # Send, Reject, Open, Click, Rendering Failure and Subscription name no
        # single recipient: the docs give only mail.destination, so a message
        # to several people counts for each of them.
        if kind == "Subscription":
            event = subscription_event(section)
        detail = detail_text("", section.get("reason") or section.get("errorMessage"))
        people = [(each, detail) for each in destination]
    # Each event's own timestamp says when it happened; mail.timestamp is the send.
    where, stamp = (
        (f"{part}.timestamp", section["timestamp"])
        if "timestamp" in section
        else ("mail.timestamp", mail.get("timestamp"))
    )
    when = iso(stamp)
    if when is None:
        return [Rejected(ref, bad_time(stamp, f"field '{where}'"))]
    if not people:
        return [Rejected(ref, f"no recipient address in the {kind} event")]
    message_id = text_of(mail.get("messageId"))
    workflows = _ses_tags(mail.get("tags"))
    # SES did not send to an address on a suppression list: no message, but the person is bounced.
    suppressed = kind == "Bounce" and section.get("bounceSubType") in SUPPRESSED
    results: list[Event | Rejected] = []
    for raw, detail in people:
        recipient = address(raw)
        if recipient and suppressed:
            results.append(Event(recipient, raw, when, EventType.REJECTED, message_id, workflows, "", detail, ref))
            results.append(Event(recipient, raw, when, EventType.BOUNCED, "", workflows, "", detail, ref))
        elif recipient:
            results.append(Event(recipient, raw, when, event, message_id, workflows, "", detail, ref))
        else:
            results.append(Rejected(ref, no_recipient(raw, f"the {kind} event")))
    return results


def _sns_message(envelope: dict[str, Any], ref: int) -> Any:
    if envelope.get("Type") != "Notification":
        return Rejected(ref, f"SNS message of type {show(envelope.get('Type'))} is not an email event")
    try:
        message = orjson.loads(envelope.get("Message"))
    except (orjson.JSONDecodeError, TypeError):
        return Rejected(ref, "SNS notification whose Message is not an SES event")
    if message.__class__ is not dict:
        return Rejected(ref, "SNS notification whose Message is not an SES event")
    return message


def subscription_event(subscription: dict[str, Any]) -> EventType:
    new = as_dict(subscription.get("newTopicPreferences"))
    old = as_dict(subscription.get("oldTopicPreferences"))
    if new.get("unsubscribeAll") is True:
        return EventType.UNSUBSCRIBED
    if old.get("unsubscribeAll") is True:
        return EventType.SUBSCRIBED
    before = {
        text_of(t.get("topicName")): t.get("subscriptionStatus") for t in dicts(old.get("topicSubscriptionStatus"))
    }
    changed = [
        t.get("subscriptionStatus")
        for t in dicts(new.get("topicSubscriptionStatus"))
        if before.get(text_of(t.get("topicName"))) != t.get("subscriptionStatus")
    ]
    return EventType.SUBSCRIBED if changed and all(s == "OptIn" for s in changed) else EventType.UNSUBSCRIBED


def _ses_tags(tags: Any) -> tuple[str, ...]:
    # Custom tags name the workflow; of SES's own "ses:" tags only the
    # configuration set does.  The rest (source IP, caller identity, from
    # domain, operation) would make every send look like its own workflow.
    if tags.__class__ is not dict:
        return ()
    values = []
    for key, value in tags.items():
        if key.startswith("ses:") and key != "ses:configuration-set":
            continue
        values.extend(value if value.__class__ is list else [value])
    return unique(values)
