"""Any other CSV: the marketer maps the columns; status words of every ESP (and a few languages) are understood."""

from __future__ import annotations

from typing import Any

from incidents.vocabulary import EventType

from .records import FormatError, word_key
from .tabular import Columns, csv_events, find_column, time_reader

FORMAT = "csv"
LABEL = "Other CSV (choose the columns yourself)"
MAPPING_KEYS = ("recipient", "time", "message_id", "workflow", "event")

_S, _Q, _R, _F = EventType.SENT, EventType.QUEUED, EventType.REJECTED, EventType.FAILED
_B, _D, _V = EventType.BOUNCED, EventType.DEFERRED, EventType.DELIVERED
_O, _C, _P = EventType.OPENED, EventType.CLICKED, EventType.COMPLAINED
_U, _SUB, _A = EventType.UNSUBSCRIBED, EventType.SUBSCRIBED, EventType.AUTORESPONDED

# Status and event words -> ours.  Keys are written as word_key() leaves them: lower case without
# spaces, "_" or "-", so "Soft-Bounced", "soft_bounce" and "SOFT BOUNCE" all match.  A soft bounce, a block
# or a deferral is "deferred" (the address is not known to be bad); only a hard bounce is "bounced".
VOCABULARY: dict[str, EventType] = {
    **dict.fromkeys(["sent", "send", "processed", "processing", "request", "requested", "accepted", "injection"], _S),
    **dict.fromkeys(["queued", "scheduled", "held"], _Q),
    **dict.fromkeys(["delivered", "delivery", "delivrd", "messagesent"], _V),
    **dict.fromkeys(["deferred", "deferral", "delay", "delayed", "deliverydelay", "deliverydelayed"], _D),
    **dict.fromkeys(["softbounce", "softbounced", "soft", "transient", "temporaryfail", "softfail"], _D),
    **dict.fromkeys(["blocked", "block", "notdelivered", "undelivered", "messagedelayed"], _D),
    **dict.fromkeys(["bounce", "bounced", "hardbounce", "hardbounced", "hard", "permanentfail", "hardfail"], _B),
    **dict.fromkeys(["invalid", "invalidemail", "bademailaddress"], _B),
    **dict.fromkeys(["dropped", "drop", "rejected", "reject", "suppressed", "skipped", "policyrejection"], _R),
    **dict.fromkeys(["failed", "error", "generationfailure", "renderingfailure"], _F),
    **dict.fromkeys(["open", "opened", "opens", "uniqueopened", "read"], _O),
    **dict.fromkeys(["click", "clicked", "clicks"], _C),
    **dict.fromkeys(["spam", "spamreport", "spamcomplaint", "complaint", "complained", "abuse", "abusereport"], _P),
    **dict.fromkeys(["unsub", "unsubscribe", "unsubscribed", "groupunsubscribe", "optout", "optedout"], _U),
    **dict.fromkeys(["listunsubscribe", "linkunsubscribe"], _U),
    **dict.fromkeys(["resubscribe", "resubscribed", "groupresubscribe", "subscribe", "subscribed", "optin"], _SUB),
    **dict.fromkeys(["autoresponder", "autoreply", "outofoffice"], _A),
    # French, German and Spanish exports from spreadsheets
    **dict.fromkeys(["envoyé", "envoye", "gesendet", "enviado"], _S),
    **dict.fromkeys(["délivré", "delivre", "remis", "zugestellt", "entregado"], _V),
    **dict.fromkeys(["ouvert", "geöffnet", "abierto"], _O),
    **dict.fromkeys(["cliqué", "clique", "geklickt"], _C),
    **dict.fromkeys(["désabonné", "desabonne", "désinscrit", "abgemeldet"], _U),
}


def read_word(value: Any) -> EventType | None:
    """How one status word of a CSV is read (None: not understood, the row is rejected)."""
    if value.__class__ is not str:
        return None
    return VOCABULARY.get(word_key(value.strip()))


def status_preview(words: list[str]) -> list[tuple[str, str]]:
    """(word, how it is read) for the distinct status words of a file, for the mapping page."""
    found = []
    for word in words:
        event = read_word(word)
        found.append((word, event.label if event else "not understood: the row is rejected"))
    return found


def parse(
    stream: Any,
    *,
    mapping: dict[str, str] | None = None,
    delimiter: str | None = None,
    date_format: str | None = None,
    encoding: str = "",
    time_zone: str = "",
    **_: Any,
) -> Any:
    options = dict(mapping or {})
    per_message = options.pop("rows", "") != "events"
    mapping = {key: value for key, value in options.items() if value}
    unknown = set(mapping) - set(MAPPING_KEYS)
    if unknown:
        raise ValueError(f"unknown mapping keys: {sorted(unknown)}")
    if "recipient" not in mapping or "time" not in mapping:
        raise FormatError("Choose the columns that hold the recipient and the time before importing.")
    read_time = time_reader(date_format, time_zone)

    def columns(header: list[str]) -> Columns:
        missing = [name for name in mapping.values() if find_column(header, name) is None]
        if missing:
            names = ", ".join(f"“{name}”" for name in dict.fromkeys(missing))
            plural = "columns" if len(set(missing)) > 1 else "column"
            raise FormatError(f"The file has no {plural} {names}; pick columns from its header row.")
        at = {key: find_column(header, name) for key, name in mapping.items()}
        return Columns(
            recipient=(at["recipient"], mapping["recipient"]),
            time=(at["time"], mapping["time"]),
            read_time=read_time,
            vocabulary=_LOOKUP,
            event=(at["event"], mapping["event"]) if "event" in at else None,
            message_id=at.get("message_id"),
            workflows=(at["workflow"],) if "workflow" in at else (),
            per_message=per_message and "message_id" not in at,
        )

    return csv_events(stream, delimiter, LABEL, columns, encoding=encoding)


class _Lookup(dict):
    """VOCABULARY read the loose way (what vocabulary_lookup does), so Columns can use it as its table."""

    def get(self, key: Any, default: Any = None) -> Any:
        return read_word(key) or default


_LOOKUP = _Lookup()
