"""Read ESP send/event logs into one common shape.

Pure Python on purpose (no Django): the import service streams uploads through
it, and it has to be testable and benchmarkable on its own.

Every parser streams: memory stays flat however large the file is.  A bad
record becomes a ``Rejected`` and parsing goes on; a file that is not of the
chosen format at all raises ``FormatError`` with a sentence for a marketer.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any, BinaryIO

import ijson
import orjson

EVENTS = (
    "sent",
    "delivered",
    "deferred",
    "bounced",
    "dropped",
    "opened",
    "clicked",
    "unsubscribed",
    "complained",
    "resubscribed",
)
FORMATS = ("sendgrid_json", "sendgrid_csv", "ses", "mailgun", "postmark", "csv")
FORMAT_LABELS: dict[str, str] = {
    "sendgrid_json": "SendGrid Event Webhook (JSON)",
    "sendgrid_csv": "SendGrid Email Activity export (CSV)",
    "ses": "Amazon SES events (SNS or Firehose JSON)",
    "mailgun": "Mailgun events or webhooks (JSON)",
    "postmark": "Postmark webhooks (JSON)",
    "csv": "Other CSV (choose the columns yourself)",
}

# detect_format() wants this much of the file; the stream open_log() returns can
# peek() this far without reading anything.
HEAD_SIZE = 64 * 1024

_SAMPLE = 5  # records looked at before deciding a file is of another format
_DETAIL_MAX = 200


@dataclass(slots=True)
class Event:
    recipient: str
    recipient_raw: str
    occurred_at: datetime
    event: str
    message_id: str
    workflows: tuple[str, ...]
    esp_event_id: str
    detail: str
    ref: int


@dataclass(slots=True)
class Rejected:
    ref: int
    reason: str


class FormatError(Exception):
    """The file is not of the chosen (or of any known) format."""


# ---------------------------------------------------------------------------
# Opening and detecting


class _Borrowed(io.RawIOBase):
    """The caller's file, read through; closing the wrapper leaves it open."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._file = fileobj

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_log(fileobj: BinaryIO) -> BinaryIO:
    """Buffer the upload and gunzip it when it starts with the gzip magic bytes.

    The result supports ``peek()``: ``detect_format(stream.peek(HEAD_SIZE))``
    looks at the head without consuming it.
    """
    stream = io.BufferedReader(_Borrowed(fileobj), HEAD_SIZE)
    if stream.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), HEAD_SIZE)
    return stream


def _log_stream(fileobj: BinaryIO) -> io.BufferedReader:
    raw = getattr(fileobj, "raw", None)
    if isinstance(fileobj, io.BufferedReader) and isinstance(raw, _Borrowed | gzip.GzipFile):
        return fileobj
    return open_log(fileobj)


def detect_format(head: bytes) -> str:
    """Name the format of a file from its first bytes (about HEAD_SIZE)."""
    head = head.removeprefix(codecs.BOM_UTF8)
    layout = _layout(head)
    if layout == "empty":
        raise FormatError("The file is empty.")
    if layout == "items":  # {"items": [...], "paging": {...}} is a Mailgun events API page
        return "mailgun"
    if layout != "not_json":
        for _, value in itertools.islice(_json_values(io.BytesIO(head), layout), 50):
            fmt = _json_format(value)
            if fmt:
                return fmt
        # A first record longer than the head: its keys alone are enough.
        fmt = _json_format(dict.fromkeys(_first_keys(head, layout)))
        if fmt:
            return fmt
        raise FormatError(
            "This JSON file is not a send log Amends recognises: its records have none of "
            "the fields of SendGrid, Amazon SES, Mailgun or Postmark events."
        )
    if head.startswith(b"PK\x03\x04") or b"\x00" in head:
        raise FormatError(
            "This is not a text file (it may be a spreadsheet or an archive); "
            "export the log as CSV or JSON and upload that."
        )
    header = _csv_first_row(head.decode("utf-8", "replace"))
    if len(header) < 2:
        raise FormatError(
            "This file is not a send log Amends recognises: it is neither JSON nor a CSV with a header row."
        )
    names = {_column_key(name) for name in header}
    if names & _SG_CSV["recipient"] and names & {"processed", "msg_id", "sg_message_id", "sg_event_id"}:
        return "sendgrid_csv"
    return "csv"


def _json_format(value: Any) -> str | None:
    if value.__class__ is not dict:
        return None
    # SendGrid before Mailgun: a SendGrid custom argument could be called "items".
    for fmt in ("ses", "postmark", "sendgrid_json", "mailgun"):
        if _LOOKS_LIKE[fmt](value):
            return fmt
    return None


_LOOKS_LIKE: dict[str, Callable[[dict[str, Any]], bool]] = {
    "sendgrid_json": lambda o: "sg_event_id" in o or "sg_message_id" in o or ("event" in o and "email" in o),
    "ses": lambda o: (
        "eventType" in o or "notificationType" in o or ("Type" in o and ("Message" in o or "TopicArn" in o))
    ),
    "mailgun": lambda o: "event-data" in o or "items" in o or ("event" in o and "recipient" in o),
    "postmark": lambda o: "RecordType" in o,
}


def _first_keys(head: bytes, layout: str) -> list[str]:
    prefix = {"array": "item", "array_lines": "item", "items": "items.item"}.get(layout, "")
    keys = []
    try:
        for path, event, value in ijson.parse(io.BytesIO(head), multiple_values=True):
            if path == prefix and event == "map_key":
                keys.append(value)
            elif path == prefix and event == "end_map":
                break
    except ijson.JSONError:
        pass  # the head ends inside the record
    return keys


def _guess(head: bytes) -> str | None:
    try:
        return detect_format(head)
    except FormatError:
        return None


def _mismatch(fmt: str, guess: str | None) -> str:
    if guess and guess != fmt:
        return f"This file looks like “{FORMAT_LABELS[guess]}”, not “{FORMAT_LABELS[fmt]}”; choose that format instead."
    return f"This file is not “{FORMAT_LABELS[fmt]}”: its first records lack the fields such a log has."


# ---------------------------------------------------------------------------
# Parsing


def parse(
    fileobj: BinaryIO,
    fmt: str,
    *,
    mapping: dict[str, str] | None = None,
    delimiter: str | None = None,
    date_format: str | None = None,
) -> Iterator[Event | Rejected]:
    """Stream Events and Rejected records out of a log of format ``fmt``.

    The head of the file is checked straight away, so FormatError comes from
    this call itself; the records are then read as they are iterated.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    stream = _log_stream(fileobj)
    if fmt == "csv":
        return _parse_csv(stream, mapping, delimiter, date_format)
    if fmt == "sendgrid_csv":
        return _parse_sendgrid_csv(stream, delimiter)
    return _parse_json(stream, fmt)


def _parse_json(stream: io.BufferedReader, fmt: str) -> Iterator[Event | Rejected]:
    head = _head(stream)
    layout = _layout(head)
    if layout == "empty":
        raise FormatError("The file is empty.")
    if layout == "not_json":
        raise FormatError(_mismatch(fmt, _guess(head)))
    _check_format(head, layout, fmt)
    # starmap and chain run in C: with a million records the loop itself counts.
    results = itertools.starmap(_CONVERTERS[fmt], _json_values(stream, layout))
    if fmt in ("ses", "mailgun"):  # several events per record
        return itertools.chain.from_iterable(results)
    return results


# A gzip upload that is damaged or cut short fails while it is being read.
_DAMAGED = (EOFError, zlib.error, gzip.BadGzipFile)


def _damaged(number: int) -> Rejected:
    # Like a cut-short JSON array: keep what was read, say where it stopped.
    return Rejected(number, "the compressed file is damaged or cut short; the rest could not be read")


def _head(stream: io.BufferedReader) -> bytes:
    try:
        head = stream.peek(HEAD_SIZE)[:HEAD_SIZE]
    except _DAMAGED as error:
        raise FormatError("The file looks compressed (gzip) but cannot be decompressed.") from error
    if head.startswith(codecs.BOM_UTF8):
        stream.read(len(codecs.BOM_UTF8))
        head = head[len(codecs.BOM_UTF8) :]
    return head


def _check_format(head: bytes, layout: str, fmt: str) -> None:
    """Refuse a file whose first objects all belong to another format."""
    values = itertools.islice(_json_values(io.BytesIO(head), layout), 50)
    objects = [value for _, value in values if value.__class__ is dict][:_SAMPLE]
    if objects and not any(map(_LOOKS_LIKE[fmt], objects)):
        guess = next(filter(None, map(_json_format, objects)), None)
        raise FormatError(_mismatch(fmt, guess))


# JSON layouts:
#   ndjson       one JSON value per line (a line may also hold an array of events)
#   array_lines  a JSON array with one object per line: read line by line (fast)
#   array        any other JSON array (or several): streamed with ijson
#   items        Mailgun events API pages {"items": [...], "paging": {...}}
#   values       pretty-printed objects one after another


def _layout(head: bytes) -> str:
    text = head.lstrip()
    first = text[:1]
    if not first:
        return "empty"
    if first == b"[":
        return "array_lines" if _one_object_per_line(text) else "array"
    if first != b"{":
        return "not_json"
    if _has_items_array(text):
        return "items"
    try:
        orjson.loads(text.partition(b"\n")[0])
    except orjson.JSONDecodeError:
        return "values"
    return "ndjson"


def _one_object_per_line(text: bytes) -> bool:
    lines = text.split(b"\n", 3)
    if len(lines) < 2:
        return False
    candidate = lines[0].strip()[1:].strip() or lines[1].strip()
    candidate = candidate.removesuffix(b"]").rstrip().removesuffix(b",")
    try:
        return candidate[:1] == b"{" and orjson.loads(candidate).__class__ is dict
    except orjson.JSONDecodeError:
        return False


def _has_items_array(text: bytes) -> bool:
    events = ijson.parse(io.BytesIO(text))
    try:
        for prefix, event, value in events:
            if prefix == "" and event == "end_map":
                return False
            if prefix == "" and event == "map_key" and value == "items":
                return next(events)[1] == "start_array"
    except (ijson.JSONError, StopIteration):
        pass
    return False


def _json_values(stream: BinaryIO, layout: str) -> Iterator[tuple[int, Any]]:
    if layout == "ndjson":
        return _ndjson(stream)
    if layout == "array_lines":
        return _array_lines(stream)
    prefix = {"array": "item", "items": "items.item", "values": ""}[layout]
    return _ijson_values(stream, prefix)


def _ndjson(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    loads = orjson.loads
    number = 0
    try:
        for number, line in enumerate(stream, 1):
            try:
                value = loads(line)
            except orjson.JSONDecodeError as error:
                if line.strip():
                    yield number, Rejected(number, f"broken JSON: {error.msg} at column {error.colno}")
                continue
            if value.__class__ is list:  # one webhook POST body (a batch) per line
                for item in value:
                    yield number, item
            else:
                yield number, value
    except _DAMAGED:
        yield number + 1, _damaged(number + 1)


def _array_lines(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    loads = orjson.loads
    number = 0
    closed = False
    try:
        for line in stream:
            # Nearly every line is one record and its comma: '{...},'.
            text = line.rstrip(b" \t\r\n,")
            if not text:
                continue
            if closed:
                yield number + 1, Rejected(number + 1, "unexpected text after the end of the JSON array")
                return
            if text[:1] != b"{" or text[-1:] != b"}":
                text, closed = _array_edges(text, number == 0)
                if not text:
                    continue
            number += 1
            try:
                value = loads(text)
            except orjson.JSONDecodeError as error:
                # A broken last line with no newline after it: the file was cut short.
                cut = not line.endswith(b"\n")
                yield number, Rejected(number, _cut_short(number - 1) if cut else _broken_array(number, error.msg))
                return
            yield number, value
    except _DAMAGED:
        yield number + 1, _damaged(number + 1)
        return
    if not closed:
        yield number + 1, Rejected(number + 1, _cut_short(number))


def _array_edges(text: bytes, first: bool) -> tuple[bytes, bool]:
    """Take the array's own brackets off its first and last lines."""
    text = text.lstrip()
    if first and text[:1] == b"[":
        text = text[1:].lstrip()
    closed = text[-1:] == b"]"
    if closed:
        text = text[:-1].rstrip(b" \t\r\n,")
    return text, closed


def _ijson_values(stream: BinaryIO, prefix: str) -> Iterator[tuple[int, Any]]:
    number = 0
    values = ijson.items(stream, prefix, use_float=True, multiple_values=True)
    while True:
        try:
            value = next(values)
        except StopIteration:
            return
        except _DAMAGED:
            yield number + 1, _damaged(number + 1)
            return
        except (ijson.JSONError, UnicodeDecodeError) as error:
            # yajl adds a drawing of where it stopped; its first line is the message.
            reason = (str(error).strip().splitlines() or [error.__class__.__name__])[0]
            if "premature EOF" in reason or "Incomplete" in reason:
                yield number + 1, Rejected(number + 1, _cut_short(number))
            else:
                yield number + 1, Rejected(number + 1, _broken_array(number + 1, reason))
            return
        number += 1
        yield number, value


def _broken_array(number: int, why: str) -> str:
    return f"broken JSON in record {number} ({why}); nothing after it could be read"


def _cut_short(number: int) -> str:
    return f"the file ends in the middle of the JSON after record {number}; it may have been cut short"


# ---------------------------------------------------------------------------
# Shared helpers for field values


def _address(raw: Any) -> str:
    """Trimmed, lower-cased address, or "" when there is none."""
    if raw.__class__ is not str:
        return ""
    address = raw.strip().lower()
    if "<" in address:
        address = parseaddr(address)[1]
    return address if "@" in address else ""


def _no_recipient(raw: Any, where: str) -> str:
    if raw is None or (raw.__class__ is str and not raw.strip()):
        return f"no recipient address in {where}"
    return f"recipient {_show(raw)} in {where} is not an email address"


def _show(value: Any) -> str:
    text = value if value.__class__ is str else str(value)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _text(value: Any) -> str:
    if value.__class__ is str:
        return value.strip()
    if value.__class__ is int:
        return str(value)
    return ""


def _dict(value: Any) -> dict[str, Any]:
    return value if value.__class__ is dict else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if item.__class__ is dict] if value.__class__ is list else []


def _unique(values: Iterable[Any]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for value in values:
        text = _text(value)
        if text:
            found[text] = None
    return tuple(found)


def _detail(label: str, reason: Any) -> str:
    text = " ".join(_text(reason).split())[:_DETAIL_MAX]
    if label and text:
        return f"{label}: {text}"
    return label or text


def _not_an_object(ref: int, value: Any) -> Rejected:
    # Readers hand broken records on as Rejected; converters pass them through.
    return value if value.__class__ is Rejected else Rejected(ref, "record is not a JSON object")


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> Any:
    """Store a result for a value logs repeat a lot (timestamps, categories)."""
    if len(memo) >= 4096:  # keep memory flat however long the file
        memo.clear()
    memo[key] = value
    return value


def _epoch(value: Any) -> datetime | None:
    """Unix seconds (or milliseconds, when too large for seconds) as UTC."""
    if value.__class__ is int or value.__class__ is float:
        stamp = value
    elif value.__class__ is str:
        try:
            stamp = float(value)
        except ValueError:
            return None
    else:
        return None
    try:
        return datetime.fromtimestamp(stamp / 1000 if stamp > 1e11 else stamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(value: Any) -> datetime | None:
    """ISO 8601 (Python 3.11 reads 'Z', offsets and 7-digit fractions); naive means UTC."""
    if value.__class__ is not str:
        return None
    text = value.strip().removesuffix(" UTC")
    try:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _any_time(value: Any) -> datetime | None:
    text = _text(value)
    if text[:1].isdigit() or text[:1] == "-":
        try:
            float(text)
        except ValueError:
            return _iso(text)
        return _epoch(text)
    return _iso(text)


def _bad_time(value: Any, where: str) -> str:
    if value is None or value == "":
        return f"no time in {where}"
    return f"unparseable time {_show(value)} in {where}"


# Event names of every format, and common CSV wordings, reduced to EVENTS.
# Keys are lower case without spaces, "_" or "-" (see _event_name).
_SYNONYMS = {
    "processed": "sent",
    "processing": "sent",
    "send": "sent",
    "sent": "sent",
    "accepted": "sent",
    "delivery": "delivered",
    "delivered": "delivered",
    "deferred": "deferred",
    "deferral": "deferred",
    "delay": "deferred",
    "delayed": "deferred",
    "deliverydelay": "deferred",
    "softbounce": "deferred",
    "transient": "deferred",
    "temporaryfail": "deferred",
    "bounce": "bounced",
    "bounced": "bounced",
    "hardbounce": "bounced",
    "failed": "bounced",
    "permanentfail": "bounced",
    "blocked": "bounced",
    "notdelivered": "bounced",
    "dropped": "dropped",
    "drop": "dropped",
    "rejected": "dropped",
    "reject": "dropped",
    "open": "opened",
    "opened": "opened",
    "opens": "opened",
    "click": "clicked",
    "clicked": "clicked",
    "clicks": "clicked",
    "unsubscribe": "unsubscribed",
    "unsubscribed": "unsubscribed",
    "groupunsubscribe": "unsubscribed",
    "spamreport": "complained",
    "spamcomplaint": "complained",
    "complaint": "complained",
    "complained": "complained",
    "groupresubscribe": "resubscribed",
    "resubscribe": "resubscribed",
    "resubscribed": "resubscribed",
}
_HINTS = {"softbounce": "soft", "transient": "soft", "hardbounce": "hard", "blocked": "blocked"}


def _key(value: str) -> str:
    return value.lower().replace(" ", "").replace("_", "").replace("-", "")


def _event_name(value: Any) -> str | None:
    if value.__class__ is not str:
        return None
    return _SYNONYMS.get(value) or _SYNONYMS.get(_key(value))


def _unknown_event(value: Any, where: str) -> str:
    if value is None or value == "":
        return f"no event type in {where}"
    return f"event type {_show(value)} not used"


# ---------------------------------------------------------------------------
# SendGrid Event Webhook
# https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event


def _sendgrid(ref: int, obj: Any) -> Event | Rejected:
    # The benchmark's hot path (a million records): the common case is written
    # out inline; anything unusual goes through the general helpers.
    if obj.__class__ is not dict:
        return _not_an_object(ref, obj)
    get = obj.get
    raw = get("email")
    recipient = raw.strip().lower() if raw.__class__ is str else ""
    if "<" in recipient:
        recipient = _address(raw)
    if "@" not in recipient:
        return Rejected(ref, _no_recipient(raw, "field 'email'"))
    kind = get("event")
    event = _SYNONYMS.get(kind) if kind.__class__ is str else None
    if event is None:
        event = _event_name(kind)
        if event is None:
            return Rejected(ref, _unknown_event(kind, "field 'event'"))
    stamp = get("timestamp")
    when = _TIMES.get(stamp) if stamp.__class__ is int else None
    if when is None:
        when = _epoch(stamp)
        if when is None:
            return Rejected(ref, _bad_time(stamp, "field 'timestamp'"))
        if stamp.__class__ is int:
            _remember(_TIMES, stamp, when)
    detail = ""
    if event == "bounced":
        # The docs: type=bounce is a hard bounce, type=blocked a block.
        label = "blocked" if get("type") == "blocked" else "hard"
        detail = _detail(label, get("reason"))
    elif event == "deferred":
        detail = _detail("", get("response") or get("reason"))
    elif event == "dropped":
        detail = _detail("", get("reason"))
    message_id = get("sg_message_id")
    cut = message_id.find(".filter") if message_id.__class__ is str else -1
    message_id = message_id[:cut] if cut > 0 else _sendgrid_message_id(message_id, get("smtp-id"))
    event_id = get("sg_event_id")
    if event_id.__class__ is not str:
        event_id = _text(event_id)
    category = get("category")
    key = (
        tuple(category) if category.__class__ is list else category,
        get("marketing_campaign_id"),
        get("marketing_campaign_name"),
    )
    try:
        workflows = _SG_WORKFLOWS.get(key)
    except TypeError:  # an odd, unhashable value: work it out without the memo
        workflows = _sendgrid_workflows(key)
    if workflows is None:
        workflows = _remember(_SG_WORKFLOWS, key, _sendgrid_workflows(key))
    return Event(recipient, raw, when, event, message_id, workflows, event_id, detail, ref)


def _sendgrid_message_id(sg_message_id: Any, smtp_id: Any) -> str:
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
    smtp = _text(smtp_id).strip("<>")
    return smtp.partition("@")[0] if "@" in smtp else smtp


def _sendgrid_workflows(key: tuple[Any, Any, Any]) -> tuple[str, ...]:
    category, campaign_id, campaign = key
    found = list(category) if category.__class__ is tuple else [category]
    return _unique([*found, campaign_id, campaign])


_TIMES: dict[int, datetime] = {}
_SG_WORKFLOWS: dict[tuple[Any, Any, Any], tuple[str, ...]] = {}


# ---------------------------------------------------------------------------
# Amazon SES event publishing (Firehose NDJSON, or SNS notifications)
# https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html


def _ses(ref: int, obj: Any) -> list[Event | Rejected]:
    if obj.__class__ is not dict:
        return [_not_an_object(ref, obj)]
    if "Type" in obj and "Message" in obj:
        obj = _sns_message(obj, ref)
        if obj.__class__ is Rejected:
            return [obj]
    kind = obj.get("eventType") or obj.get("notificationType")
    if kind.__class__ is not str or kind not in _SES_EVENTS:
        return [Rejected(ref, _unknown_event(kind, "field 'eventType'"))]
    event, part = _SES_EVENTS[kind]
    section = _dict(obj.get(part))
    mail = _dict(obj.get("mail"))
    destination = _list(mail.get("destination"))
    if kind == "Bounce":
        # The docs: only Permanent means "remove the address"; Transient bounces
        # come after SES gave up retrying and may succeed later, and
        # Undetermined is not known to be permanent either.
        if section.get("bounceType") == "Permanent":
            event, label = "bounced", "hard"
        else:
            event, label = "deferred", "soft"
        people = [
            (r.get("emailAddress"), _detail(label, r.get("diagnosticCode") or section.get("bounceSubType")))
            for r in _dicts(section.get("bouncedRecipients"))
        ]
    elif kind == "Complaint":
        feedback = _detail("", section.get("complaintFeedbackType"))
        people = [(r.get("emailAddress"), feedback) for r in _dicts(section.get("complainedRecipients"))]
    elif kind == "Delivery":
        people = [(address, "") for address in _list(section.get("recipients"))]
    elif kind == "DeliveryDelay":
        detail = _detail("soft", section.get("delayType"))
        delayed = [r.get("emailAddress") for r in _dicts(section.get("delayedRecipients"))]
        people = [(address, detail) for address in delayed or destination]
    else:
        # Send, Reject, Open, Click, Rendering Failure and Subscription name no
        # single recipient: the docs give only mail.destination, so a message
        # to several people counts for each of them.
        if kind == "Subscription":
            event = _ses_subscription(section)
        detail = _detail("", section.get("reason") or section.get("errorMessage"))
        people = [(address, detail) for address in destination]
    # Each event's own timestamp says when it happened; mail.timestamp is the send.
    where, stamp = (
        (f"{part}.timestamp", section["timestamp"])
        if "timestamp" in section
        else ("mail.timestamp", mail.get("timestamp"))
    )
    when = _iso(stamp)
    if when is None:
        return [Rejected(ref, _bad_time(stamp, f"field '{where}'"))]
    if not people:
        return [Rejected(ref, f"no recipient address in the {kind} event")]
    message_id = _text(mail.get("messageId"))
    workflows = _ses_tags(mail.get("tags"))
    results: list[Event | Rejected] = []
    for raw, detail in people:
        recipient = _address(raw)
        if recipient:
            results.append(Event(recipient, raw, when, event, message_id, workflows, "", detail, ref))
        else:
            results.append(Rejected(ref, _no_recipient(raw, f"the {kind} event")))
    return results


# eventType -> (event, the record's own section).  Rendering Failure: "The email
# wasn't sent because of a template rendering issue", so it counts as dropped
# (tried, not sent) rather than being left out.
_SES_EVENTS = {
    "Send": ("sent", "send"),
    "Delivery": ("delivered", "delivery"),
    "Bounce": ("bounced", "bounce"),
    "Complaint": ("complained", "complaint"),
    "DeliveryDelay": ("deferred", "deliveryDelay"),
    "Reject": ("dropped", "reject"),
    "Open": ("opened", "open"),
    "Click": ("clicked", "click"),
    "Rendering Failure": ("dropped", "failure"),
    "Subscription": ("unsubscribed", "subscription"),
}


def _sns_message(envelope: dict[str, Any], ref: int) -> Any:
    if envelope.get("Type") != "Notification":
        return Rejected(ref, f"SNS message of type {_show(envelope.get('Type'))} is not an email event")
    try:
        message = orjson.loads(envelope.get("Message"))
    except (orjson.JSONDecodeError, TypeError):
        return Rejected(ref, "SNS notification whose Message is not an SES event")
    if message.__class__ is not dict:
        return Rejected(ref, "SNS notification whose Message is not an SES event")
    return message


def _ses_subscription(subscription: dict[str, Any]) -> str:
    new = _dict(subscription.get("newTopicPreferences"))
    old = _dict(subscription.get("oldTopicPreferences"))
    if new.get("unsubscribeAll") is True:
        return "unsubscribed"
    if old.get("unsubscribeAll") is True:
        return "resubscribed"
    before = {
        _text(t.get("topicName")): t.get("subscriptionStatus") for t in _dicts(old.get("topicSubscriptionStatus"))
    }
    changed = [
        t.get("subscriptionStatus")
        for t in _dicts(new.get("topicSubscriptionStatus"))
        if before.get(_text(t.get("topicName"))) != t.get("subscriptionStatus")
    ]
    return "resubscribed" if changed and all(s == "OptIn" for s in changed) else "unsubscribed"


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
    return _unique(values)


def _list(value: Any) -> list[Any]:
    return value if value.__class__ is list else []


# ---------------------------------------------------------------------------
# Mailgun events API pages and webhooks
# https://documentation.mailgun.com/docs/mailgun/user-manual/events/event-types


def _mailgun(ref: int, obj: Any) -> list[Event | Rejected]:
    if obj.__class__ is dict and "event-data" in obj:
        obj = obj["event-data"]
    if obj.__class__ is not dict:
        return [_not_an_object(ref, obj)]
    if "event" not in obj and obj.get("items").__class__ is list:
        return [result for item in obj["items"] for result in _mailgun(ref, item)]
    get = obj.get
    raw = get("recipient")
    recipient = _address(raw)
    if not recipient:
        return [Rejected(ref, _no_recipient(raw, "field 'recipient'"))]
    kind = get("event")
    if kind == "failed":
        # The docs: severity=permanent means Mailgun stopped trying,
        # severity=temporary that the receiving server refused for now.
        severity = get("severity")
        event, label = (
            ("deferred", "soft") if severity == "temporary" else ("bounced", "hard" if severity == "permanent" else "")
        )
    else:
        event, label = _event_name(kind), ""
    if event is None:
        return [Rejected(ref, _unknown_event(kind, "field 'event'"))]
    when = _epoch(get("timestamp"))
    if when is None:
        return [Rejected(ref, _bad_time(get("timestamp"), "field 'timestamp'"))]
    detail = ""
    if event in ("bounced", "deferred", "dropped"):
        status = _dict(get("delivery-status"))
        reject = _dict(get("reject"))
        reason = status.get("description") or status.get("message") or reject.get("reason") or get("reason")
        detail = _detail(label, reason)
    headers = _dict(_dict(get("message")).get("headers"))
    variables = _dict(get("user-variables"))
    campaigns = [c.get("id") if c.__class__ is dict else c for c in _list(get("campaigns"))]
    workflows = _unique([*_list(get("tags")), *campaigns, *(v for v in variables.values() if v.__class__ is str)])
    message_id = _text(headers.get("message-id")).strip("<>")
    return [Event(recipient, raw, when, event, message_id, workflows, _text(get("id")), detail, ref)]


# ---------------------------------------------------------------------------
# Postmark webhooks
# https://postmarkapp.com/developer/webhooks/webhooks-overview

_POSTMARK_TIME = {
    "Delivery": "DeliveredAt",
    "Bounce": "BouncedAt",
    "SpamComplaint": "BouncedAt",
    "Open": "ReceivedAt",
    "Click": "ReceivedAt",
    "SubscriptionChange": "ChangedAt",
}
# Bounce "Type" values from Postmark's bounce types; anything else that is a
# real failure is kept as bounced with its type as the detail.
_POSTMARK_BOUNCES = {
    "HardBounce": ("bounced", "hard"),
    "BadEmailAddress": ("bounced", "hard"),
    "Blocked": ("bounced", "blocked"),
    "DMARCPolicy": ("bounced", "blocked"),
    "SoftBounce": ("deferred", "soft"),
    "Transient": ("deferred", "soft"),
    "DnsError": ("deferred", "soft"),
    "SpamComplaint": ("complained", ""),
    "Unsubscribe": ("unsubscribed", ""),
    "Subscribe": ("resubscribed", ""),
    "ManuallyDeactivated": ("dropped", "manually deactivated"),
    "SMTPApiError": ("dropped", "SMTP API error"),
    "TemplateRenderingFailed": ("dropped", "template rendering failed"),
}
# Replies and notices that arrive through the bounce webhook but say nothing
# about whether the message reached the person.
_POSTMARK_NOT_BOUNCES = {"AutoResponder", "AddressChange", "ChallengeVerification", "OpenRelayTest", "InboundError"}


def _postmark(ref: int, obj: Any) -> Event | Rejected:
    if obj.__class__ is not dict:
        return _not_an_object(ref, obj)
    get = obj.get
    kind = get("RecordType")
    field = _POSTMARK_TIME.get(kind) if kind.__class__ is str else None
    if field is None:
        return Rejected(ref, _unknown_event(kind, "field 'RecordType'"))
    raw = get("Recipient") or get("Email")
    recipient = _address(raw)
    if not recipient:
        return Rejected(ref, _no_recipient(raw, "field 'Recipient'/'Email'"))
    when = _iso(get(field))
    if when is None:
        return Rejected(ref, _bad_time(get(field), f"field '{field}'"))
    detail = ""
    if kind == "Bounce":
        bounce_type = _text(get("Type"))
        if bounce_type in _POSTMARK_NOT_BOUNCES:
            return Rejected(ref, f"bounce type {bounce_type!r} not used")
        event, label = _POSTMARK_BOUNCES.get(bounce_type, ("bounced", bounce_type))
        detail = _detail(label, get("Details") or get("Description"))
    elif kind == "SubscriptionChange":
        event, detail = _postmark_subscription(get)
    else:
        event = {"Delivery": "delivered", "SpamComplaint": "complained", "Open": "opened", "Click": "clicked"}[kind]
    message_id = _text(get("MessageID") or get("MessageId"))
    if not message_id.strip("0-"):  # manual suppressions carry a null or all-zero id
        message_id = ""
    metadata = [v for v in _dict(get("Metadata")).values() if v.__class__ is str]
    workflows = _unique([get("Tag"), *metadata, get("MessageStream")])
    event_id = _text(get("ID")) if kind in ("Bounce", "SpamComplaint") else ""
    return Event(recipient, raw, when, event, message_id, workflows, event_id, detail, ref)


def _postmark_subscription(get: Callable[[str], Any]) -> tuple[str, str]:
    # The docs: an address is suppressed after a hard bounce, a spam complaint,
    # an unsubscribe or a manual suppression, and SuppressSending false is a
    # reactivation.  Broadcast streams report bounces only this way, so a
    # HardBounce suppression is a bounce, not somebody unsubscribing.
    reason = _text(get("SuppressionReason"))
    if get("SuppressSending") is not True:
        return "resubscribed", reason
    if reason == "HardBounce":
        return "bounced", "hard"
    if reason == "SpamComplaint":
        return "complained", ""
    return "unsubscribed", reason


# Each takes (ref, decoded record) and returns an Event or Rejected (a list of them for
# formats where one record can name several people).
_CONVERTERS: dict[str, Callable[[int, Any], Any]] = {
    "sendgrid_json": _sendgrid,
    "ses": _ses,
    "mailgun": _mailgun,
    "postmark": _postmark,
}


# ---------------------------------------------------------------------------
# CSV: SendGrid Email Activity export, and any other CSV with a column mapping


@dataclass(slots=True)
class _Columns:
    recipient: tuple[int, str]
    time: tuple[int, str]
    read_time: Callable[[str], datetime | None]
    event: tuple[int, str] | None = None
    message_id: int | None = None
    workflows: tuple[int, ...] = ()
    details: tuple[int, ...] = ()
    bounce_type: int | None = None
    event_id: int | None = None
    sendgrid: bool = False


# Accepted spellings of the SendGrid export's columns, after _column_key().
_SG_CSV = {
    "recipient": {"email", "to_email", "recipient", "to", "email_address"},
    "time": {"processed", "processed_at", "timestamp", "time", "date", "event_time", "last_event_time"},
    "message_id": {"message_id", "msg_id", "sg_message_id", "smtp_id", "smtp-id"},
    "event": {"event", "event_name", "event_type", "status"},
    "workflows": {"categories", "category", "marketing_campaign_id", "marketing_campaign_name", "template_id"},
    "details": {"reason", "response"},
    "bounce_type": {"type", "bounce_type"},
    "event_id": {"sg_event_id", "event_id"},
}
_MAPPING_KEYS = ("recipient", "time", "message_id", "workflow", "event")


def _column_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def csv_header(fileobj: BinaryIO, delimiter: str | None = None) -> tuple[list[str], list[list[str]]]:
    """The header and first 10 rows, for the column-mapping preview."""
    stream = _log_stream(fileobj)
    head = _head(stream)
    if not head.strip():
        raise FormatError("The file is empty.")
    if _layout(head) != "not_json":
        raise FormatError("This is a JSON file, not a CSV; choose its ESP's format instead.")
    text = _text_stream(stream)
    try:
        reader = csv.reader(text, delimiter=delimiter or _sniff(head))
        rows = [[cell.strip() for cell in row] for row in itertools.islice(filter(None, reader), 11)]
    except (csv.Error, *_DAMAGED) as error:
        raise FormatError(f"This CSV cannot be read: {error}.") from error
    finally:
        text.detach()
    if not rows:
        raise FormatError("The file is empty.")
    return rows[0], rows[1:]


def _parse_csv(
    stream: io.BufferedReader,
    mapping: dict[str, str] | None,
    delimiter: str | None,
    date_format: str | None,
) -> Iterator[Event | Rejected]:
    mapping = {key: value for key, value in (mapping or {}).items() if value}
    unknown = set(mapping) - set(_MAPPING_KEYS)
    if unknown:
        raise ValueError(f"unknown mapping keys: {sorted(unknown)}")
    if "recipient" not in mapping or "time" not in mapping:
        raise FormatError("Choose the columns that hold the recipient and the time before importing.")
    if date_format in (None, "", "auto"):
        read_time = _any_time
    else:
        read_time = _strptime(date_format)

    def columns(header: list[str]) -> _Columns:
        missing = [name for name in mapping.values() if _find(header, name) is None]
        if missing:
            names = ", ".join(f"“{name}”" for name in dict.fromkeys(missing))
            plural = "columns" if len(set(missing)) > 1 else "column"
            raise FormatError(f"The file has no {plural} {names}; pick columns from its header row.")
        at = {key: _find(header, name) for key, name in mapping.items()}
        return _Columns(
            recipient=(at["recipient"], mapping["recipient"]),
            time=(at["time"], mapping["time"]),
            read_time=read_time,
            event=(at["event"], mapping["event"]) if "event" in at else None,
            message_id=at.get("message_id"),
            workflows=(at["workflow"],) if "workflow" in at else (),
        )

    return _csv_events(stream, delimiter, "csv", columns)


def _parse_sendgrid_csv(stream: io.BufferedReader, delimiter: str | None) -> Iterator[Event | Rejected]:
    def columns(header: list[str]) -> _Columns:
        keys = [_column_key(name) for name in header]

        def first(kind: str) -> int | None:
            return next((i for i, key in enumerate(keys) if key in _SG_CSV[kind]), None)

        def every(kind: str) -> tuple[int, ...]:
            return tuple(i for i, key in enumerate(keys) if key in _SG_CSV[kind])

        recipient, time, event = first("recipient"), first("time"), first("event")
        if recipient is None or time is None:
            needed = [label for label, at in (("email", recipient), ("processed", time)) if at is None]
            raise FormatError(
                f"This CSV has no {' or '.join(needed)} column, so it is not a SendGrid Email "
                f"Activity export; choose “{FORMAT_LABELS['csv']}” and pick the columns."
            )
        return _Columns(
            recipient=(recipient, header[recipient]),
            time=(time, header[time]),
            read_time=_any_time,
            event=(event, header[event]) if event is not None else None,
            message_id=first("message_id"),
            workflows=every("workflows"),
            details=every("details"),
            bounce_type=first("bounce_type"),
            event_id=first("event_id"),
            sendgrid=True,
        )

    return _csv_events(stream, delimiter, "sendgrid_csv", columns)


def _csv_events(
    stream: io.BufferedReader,
    delimiter: str | None,
    fmt: str,
    columns_for: Callable[[list[str]], _Columns],
) -> Iterator[Event | Rejected]:
    head = _head(stream)
    if not head.strip():
        raise FormatError("The file is empty.")
    if _layout(head) != "not_json":
        raise FormatError(_mismatch(fmt, _guess(head)))
    text = _text_stream(stream)
    rows = _csv_rows(csv.reader(text, delimiter=delimiter or _sniff(head)))
    try:
        header = next(rows, (0, []))[1]
        if header.__class__ is Rejected or not header:
            raise FormatError("The first row of this CSV cannot be read as a header row.")
        columns = columns_for([name.strip() for name in header])
    except BaseException:
        text.detach()
        raise
    return _csv_records(text, rows, columns)


def _csv_records(
    text: io.TextIOWrapper, rows: Iterator[tuple[int, Any]], columns: _Columns
) -> Iterator[Event | Rejected]:
    try:
        for ref, row in rows:
            yield row if row.__class__ is Rejected else _csv_event(row, ref, columns)
    finally:
        text.detach()  # the byte stream is the caller's; leave it open


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str] | Rejected]]:
    """Rows with the line they start on (the header is line 1); blank rows skipped."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except _DAMAGED:
            yield start, _damaged(start)
            return
        except csv.Error as error:
            yield start, Rejected(start, f"unreadable CSV row: {error}")
            if reader.line_num < start:
                return
            continue
        if any(cell.strip() for cell in row):
            yield start, row


def _csv_event(row: list[str], ref: int, columns: _Columns) -> Event | Rejected:
    at, column = columns.recipient
    raw = row[at] if at < len(row) else ""
    recipient = _address(raw)
    if not recipient:
        return Rejected(ref, _no_recipient(raw, f"column '{column}'"))
    at, column = columns.time
    value = _cell(row, at)
    when = columns.read_time(value) if value else None
    if when is None:
        return Rejected(ref, _bad_time(value, f"column '{column}'"))
    event, label = "sent", ""
    if columns.event is not None:
        at, column = columns.event
        value = _cell(row, at)
        event = _event_name(value)
        if event is None:
            if not value:
                return Rejected(ref, f"no event type in column '{column}'")
            return Rejected(ref, f"unknown event type {value!r} in column '{column}'")
        label = _HINTS.get(_key(value), "")
    if columns.bounce_type is not None and event == "bounced":
        label = _cell(row, columns.bounce_type).lower() or label
    detail = ""
    if event in ("bounced", "deferred", "dropped"):
        detail = _detail(label, next(filter(None, (_cell(row, i) for i in columns.details)), ""))
    message_id = _cell(row, columns.message_id).strip("<>")
    if columns.sendgrid:
        message_id = _sendgrid_message_id(message_id, "")
    values: list[str] = []
    for i in columns.workflows:
        cell = _cell(row, i)
        values.extend(_split_list(cell) if columns.sendgrid else [cell])
    return Event(recipient, raw, when, event, message_id, _unique(values), _cell(row, columns.event_id), detail, ref)


def _cell(row: list[str], at: int | None) -> str:
    return row[at].strip() if at is not None and at < len(row) else ""


def _split_list(cell: str) -> list[str]:
    # Categories come as a JSON list or as comma-separated names.
    if cell.startswith("["):
        try:
            value = orjson.loads(cell)
        except orjson.JSONDecodeError:
            pass
        else:
            return [str(item) for item in value] if value.__class__ is list else [cell]
    return cell.split(",")


def _find(header: list[str], name: str) -> int | None:
    if name in header:
        return header.index(name)
    wanted = _column_key(name)
    return next((i for i, column in enumerate(header) if _column_key(column) == wanted), None)


def _strptime(date_format: str) -> Callable[[str], datetime | None]:
    def read(value: str) -> datetime | None:
        try:
            moment = datetime.strptime(value, date_format)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except (ValueError, OverflowError):
            return None

    return read


def _text_stream(stream: io.BufferedReader) -> io.TextIOWrapper:
    # Exports from spreadsheets are not always UTF-8: a wrong byte becomes
    # U+FFFD in that cell instead of stopping the import.
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")


def _sniff(head: bytes) -> str:
    line = head.decode("utf-8", "replace").lstrip("\ufeff").partition("\n")[0]
    counts = {candidate: line.count(candidate) for candidate in ",;\t|"}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _csv_first_row(text: str) -> list[str]:
    line = text.lstrip("\ufeff").partition("\n")[0]
    try:
        return next(csv.reader([line], delimiter=_sniff(line.encode())), [])
    except csv.Error:
        return []
