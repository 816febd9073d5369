"""The common shape every send-log reader produces (Event, Rejected, FormatError) and helpers for field values.

Pure Python on purpose (no Django models): readers stream uploads through it, and it has to be testable and
benchmarkable on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from incidents.vocabulary import EventType

DETAIL_MAX = 200
SAMPLE = 5  # records looked at before deciding a file is of another format


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
    # A person's state the file's record reveals beside its message (Mailgun's suppress-* failures): staged as an
    # event of its own, but not a record of the file ("Rows read" counts those).
    revealed: bool = False


@dataclass(slots=True)
class Rejected:
    ref: int
    reason: str


class FormatError(Exception):
    """The file is not of the chosen (or of any known) format."""


# An event's text fields, as the import's errors name them.
TEXT_FIELDS = {
    "recipient": "recipient address",
    "recipient_raw": "recipient address",
    "message_id": "message id",
    "esp_event_id": "event id",
    "detail": "event's detail",
}


def nul_field(item: Event) -> str:
    """The name of the first field holding a NUL character, or "": PostgreSQL's text cannot hold one (SQLite's
    could, and an import must read the same on both); imports reject such a record, the watch skips it."""
    # Asked of every record an import reads: one pass over the fields first (0.16 against 0.62 us a record).
    if not (
        "\x00" in item.recipient_raw
        or "\x00" in item.recipient
        or "\x00" in item.message_id
        or "\x00" in item.esp_event_id
        or "\x00" in item.detail
        or "\x00" in "".join(item.workflows)
    ):
        return ""
    for name, label in TEXT_FIELDS.items():
        if "\x00" in getattr(item, name):
            return label
    if any("\x00" in workflow for workflow in item.workflows):
        return "categories or tags"
    return ""


def nul_free(value: Any) -> Any:
    """`value` with every NUL character replaced by U+FFFD, in a string or in the strings (keys too) of a JSON-like
    value: what an ESP's webhook (an event, a reply) says is kept, readable, where no text column could take a NUL.
    """
    if value.__class__ is str:
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if value.__class__ is dict:
        return {nul_free(k): nul_free(v) for k, v in value.items()}
    if value.__class__ is list:
        return [nul_free(item) for item in value]
    return value


# Shared helpers for field values


def address(raw: Any) -> str:
    """Trimmed, lower-cased address, or "" when there is none."""
    if raw.__class__ is not str:
        return ""
    found = raw.strip().lower()
    if "<" in found:
        found = parseaddr(found)[1]
    return found if "@" in found else ""


def no_recipient(raw: Any, where: str) -> str:
    if raw is None or (raw.__class__ is str and not raw.strip()):
        return f"no recipient address in {where}"
    return f"recipient {show(raw)} in {where} is not an email address"


def show(value: Any) -> str:
    text = value if value.__class__ is str else str(value)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def text_of(value: Any) -> str:
    if value.__class__ is str:
        return value.strip()
    if value.__class__ is int:
        return str(value)
    return ""


def as_dict(value: Any) -> dict[str, Any]:
    return value if value.__class__ is dict else {}


def dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if item.__class__ is dict] if value.__class__ is list else []


def unique(values: Iterable[Any]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for value in values:
        text = text_of(value)
        if text:
            found[text] = None
    return tuple(found)


def detail_text(label: str, reason: Any) -> str:
    text = " ".join(text_of(reason).split())[:DETAIL_MAX]
    if label and text:
        return f"{label}: {text}"
    return label or text


def not_an_object(ref: int, value: Any) -> Rejected:
    # Readers hand broken records on as Rejected; converters pass them through.
    return value if value.__class__ is Rejected else Rejected(ref, "record is not a JSON object")


def remember(memo: dict[Any, Any], key: Any, value: Any) -> Any:
    """Store a result for a value logs repeat a lot (timestamps, categories)."""
    if len(memo) >= 4096:  # keep memory flat however long the file
        memo.clear()
    memo[key] = value
    return value


def epoch(value: Any) -> datetime | None:
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


def iso(value: Any) -> datetime | None:
    """ISO 8601 (Python 3.11 reads 'Z', offsets and 7-digit fractions); naive means UTC."""
    if value.__class__ is not str:
        return None
    text = value.strip().removesuffix(" UTC")
    try:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def any_time(value: Any) -> datetime | None:
    text = text_of(value)
    if text[:1].isdigit() or text[:1] == "-":
        try:
            float(text)
        except ValueError:
            return iso(text)
        return epoch(text)
    return iso(text)


def bad_time(value: Any, where: str) -> str:
    if value is None or value == "":
        return f"no time in {where}"
    return f"unparseable time {show(value)} in {where}"


def word_key(value: str) -> str:
    return value.lower().replace(" ", "").replace("_", "").replace("-", "")


def unknown_event(value: Any, where: str) -> str:
    if value is None or value == "":
        return f"no event type in {where}"
    return f"event type {show(value)} not used"


def vocabulary_lookup(table: dict[str, EventType], value: Any) -> EventType | None:
    """An ESP word read through its module's vocabulary table, exactly or spelled loosely."""
    if value.__class__ is not str:
        return None
    return table.get(value) or table.get(word_key(value))


def as_list(value: Any) -> list[Any]:
    return value if value.__class__ is list else []
