"""CSV send logs: turning rows into Events through a column map, each format's vocabulary, and a time zone."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from incidents.vocabulary import EventType

from . import csv_records, readers
from .records import (
    Event,
    FormatError,
    Rejected,
    address,
    bad_time,
    detail_text,
    epoch,
    no_recipient,
    unique,
    vocabulary_lookup,
)


@dataclass(slots=True)
class Columns:
    """Where each field is in a CSV's rows, and how to read its words and times."""

    recipient: tuple[int, str]
    time: tuple[int, str]
    read_time: Callable[[str], datetime | None]
    vocabulary: dict[str, EventType]
    event: tuple[int, str] | None = None
    message_id: int | None = None
    workflows: tuple[int, ...] = ()
    details: tuple[int, ...] = ()
    bounce_type: int | None = None
    event_id: int | None = None
    # (bounce type cell) -> (event type, hard); None keeps the vocabulary's word.
    bounce: Callable[[str], tuple[EventType, bool]] | None = None
    split_workflows: Callable[[str], list[str]] | None = None
    clean_message_id: Callable[[str], str] | None = None
    # Every row is one message (an export with a status column and no message id).
    per_message: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def column_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def time_zone(name: str | None) -> tzinfo:
    """The zone naive CSV times are in; UTC unless the mapping says otherwise."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FormatError(f"“{name}” is not a time zone Amends knows; choose one from the list.") from None


def _as_utc(moment: datetime, zone: tzinfo) -> datetime:
    return moment.replace(tzinfo=zone).astimezone(UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_in(value: Any, zone: tzinfo) -> datetime | None:
    """ISO 8601 (Python 3.11 reads 'Z', offsets and 7-digit fractions); naive means `zone`."""
    if value.__class__ is not str:
        return None
    text = value.strip().removesuffix(" UTC")
    try:
        return _as_utc(datetime.fromisoformat(text), zone)
    except (ValueError, OverflowError):
        return None


def any_time(value: Any, zone: tzinfo = UTC) -> datetime | None:
    """Unix seconds or milliseconds, or ISO 8601 (naive ones in `zone`)."""
    text = value.strip() if value.__class__ is str else ""
    if text[:1].isdigit() or text[:1] == "-":
        try:
            float(text)
        except ValueError:
            return iso_in(text, zone)
        return epoch(text)
    return iso_in(text, zone)


def time_reader(date_format: str | None, zone_name: str | None = None) -> Callable[[str], datetime | None]:
    """How a mapped time column is read: `date_format` (strptime) or automatic, naive times in the zone."""
    zone = time_zone(zone_name)
    if date_format in (None, "", "auto"):
        return any_time if zone is UTC else (lambda value: any_time(value, zone))

    def read(value: str) -> datetime | None:
        try:
            return _as_utc(datetime.strptime(value, date_format), zone)
        except (ValueError, OverflowError):
            return None

    return read


def csv_events(
    stream: io.BufferedReader,
    delimiter: str | None,
    label: str,
    columns_for: Callable[[list[str]], Columns],
    *,
    encoding: str = "",
) -> Iterator[Event | Rejected]:
    """Events from a CSV send log; the header is checked straight away (FormatError from this call)."""
    head = readers.head_of(stream)
    if not head.strip():
        raise FormatError("The file is empty.")
    encoding = encoding or readers.detect_encoding(head)
    text = readers.head_text(head, encoding)
    readers.configure(stream, lines=not encoding.startswith("utf-16"), depth=False)
    rows = csv_records.csv_rows(readers.text_lines(stream, encoding), delimiter or csv_records.sniff(text), encoding)
    header = next(rows, (0, []))[1]
    if header.__class__ is Rejected or not header:
        raise FormatError(f"The first row of this CSV cannot be read as a header row ({label}).")
    columns = columns_for([name.strip() for name in header])
    return _records(rows, columns)


def _records(rows: Iterator[tuple[int, Any]], columns: Columns) -> Iterator[Event | Rejected]:
    for ref, row in rows:
        yield row if row.__class__ is Rejected else csv_event(row, ref, columns)


# Enum attribute lookups cost on the per-row path; look them up once.
_SENT, _BOUNCED, _DEFERRED, _REJECTED = EventType.SENT, EventType.BOUNCED, EventType.DEFERRED, EventType.REJECTED


def csv_event(row: list[str], ref: int, columns: Columns) -> Event | Rejected:
    at, column = columns.recipient
    raw = row[at] if at < len(row) else ""
    recipient = address(raw)
    if not recipient:
        return Rejected(ref, no_recipient(raw, f"column '{column}'"))
    at, column = columns.time
    value = cell(row, at)
    when = columns.read_time(value) if value else None
    if when is None:
        return Rejected(ref, bad_time(value, f"column '{column}'"))
    event, label = _SENT, ""
    if columns.event is not None:
        at, column = columns.event
        value = cell(row, at)
        event = vocabulary_lookup(columns.vocabulary, value)
        if event is None:
            if not value:
                return Rejected(ref, f"no event type in column '{column}'")
            return Rejected(ref, f"unknown event type {value!r} in column '{column}'")
    if event is _BOUNCED and columns.bounce is not None and columns.bounce_type is not None:
        event, hard = columns.bounce(cell(row, columns.bounce_type))
        label = "hard" if hard else cell(row, columns.bounce_type).lower() or "soft"
    elif event is _BOUNCED:
        label = "hard"
    elif event is _DEFERRED:
        label = "soft"
    detail = ""
    if event is _BOUNCED or event is _DEFERRED or event is _REJECTED:
        detail = detail_text(label, next(filter(None, (cell(row, i) for i in columns.details)), ""))
    message_id = cell(row, columns.message_id).strip("<>")
    if columns.clean_message_id is not None:
        message_id = columns.clean_message_id(message_id)
    values: list[str] = []
    for i in columns.workflows:
        text = cell(row, i)
        values.extend(columns.split_workflows(text) if columns.split_workflows else [text])
    workflows = unique(values)
    if not message_id and columns.per_message:
        message_id = row_message_id(recipient, when, workflows)
    return Event(recipient, raw, when, event, message_id, workflows, cell(row, columns.event_id), detail, ref)


def row_message_id(recipient: str, when: datetime, workflows: tuple[str, ...]) -> str:
    """A stable id for a one-row-per-message export: the same row in an overlapping export is the same message."""
    digest = hashlib.md5(f"{recipient}|{when.timestamp()}|{'|'.join(workflows)}".encode(), usedforsecurity=False)
    return "row-" + digest.hexdigest()[:24]


def cell(row: list[str], at: int | None) -> str:
    return row[at].strip() if at is not None and at < len(row) else ""


def split_list(text: str) -> list[str]:
    """Categories come as a JSON list or as comma-separated names."""
    if text.startswith("["):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return [str(item) for item in value] if value.__class__ is list else [text]
    return text.split(",")


def find_column(header: list[str], name: str) -> int | None:
    if name in header:
        return header.index(name)
    wanted = column_key(name)
    return next((i for i, column in enumerate(header) if column_key(column) == wanted), None)
