"""Which send-log formats exist, how a file's format is detected (or refused by name), and parse() for any of them.

Adding an ESP = one module with FORMAT, LABEL, MANY, VOCABULARY, looks_like(), convert() and bounce_class()
(and/or CSV_FORMAT, CSV_LABEL, csv_looks_like(), parse_csv()), listed below, plus its sample file.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, BinaryIO

import ijson

from . import (
    brevo,
    columnar,
    generic_csv,
    mailersend,
    mailgun,
    mailjet,
    mandrill,
    postal,
    postmark,
    resend,
    sendgrid,
    ses,
    sparkpost,
)
from .csv_records import csv_first_row, open_csv
from .readers import (
    DEFAULT_LIMITS,
    HEAD_SIZE,
    LINE_LAYOUTS,
    Limits,
    check_depth,
    check_text,
    detect_encoding,
    head_of,
    head_text,
    json_values,
    layout_of,
    log_stream,
    max_depth,
)
from .records import SAMPLE, Event, FormatError, Rejected
from .tabular import column_key

# JSON formats in detection order: the most specific fields first (SendGrid's "event"+"email" and
# Mailgun's "event"+"recipient" are the loosest, so they come last).
JSON_MODULES: list[ModuleType] = [
    ses,
    postmark,
    sparkpost,
    resend,
    mailersend,
    postal,
    mandrill,
    brevo,
    mailjet,
    sendgrid,
    mailgun,
]
# CSV exports recognised by their header; anything else is the generic CSV with a column mapping.
CSV_MODULES: list[ModuleType] = [sendgrid, mandrill]

FORMAT_LABELS: dict[str, str] = {
    **{m.FORMAT: m.LABEL for m in JSON_MODULES},
    **{m.CSV_FORMAT: m.CSV_LABEL for m in CSV_MODULES},
    generic_csv.FORMAT: generic_csv.LABEL,
}
FORMATS = tuple(FORMAT_LABELS)
# django-anymail's esp_name of each tracking webhook -> the module that reads the same ESP's records.
ANYMAIL_ESP_NAMES: dict[str, ModuleType] = {
    "Amazon SES": ses,
    "Brevo": brevo,
    "SendinBlue": brevo,
    "MailerSend": mailersend,
    "Mailgun": mailgun,
    "Mailjet": mailjet,
    "Mandrill": mandrill,
    "Postal": postal,
    "Postmark": postmark,
    "Resend": resend,
    "SendGrid": sendgrid,
    "SparkPost": sparkpost,
}
_JSON = {m.FORMAT: m for m in JSON_MODULES}
_CSV = {m.CSV_FORMAT: m for m in CSV_MODULES}

# Logs Amends does not read yet, recognised so the refusal can name them: (name, test on one record).
UNSUPPORTED_JSON: list[tuple[str, Any]] = [
    ("Iterable events", lambda o: "eventName" in o and "createdAt" in o),
    ("Mailchimp (Marketing API) activity", lambda o: "email_address" in o and ("activity" in o or "action" in o)),
    ("Klaviyo events", lambda o: "metric_id" in o or ("attributes" in o and "datetime" in o.get("attributes", {}))),
    ("Customer.io reporting webhooks", lambda o: "metric" in o and "event_id" in o and "data" in o),
    ("Mailtrap webhooks", lambda o: "events" in o and isinstance(o.get("events"), list)),
    ("Unisender Go webhooks", lambda o: "event_name" in o and "event_data" in o),
]


def _refusal(name: str) -> str:
    return (
        f"This looks like {name}, which Amends does not read yet; export it as CSV and choose "
        f"“{generic_csv.LABEL}” to map its columns, or ask us to add it."
    )


def json_format(value: Any) -> str | None:
    if value.__class__ is not dict:
        return None
    for module in JSON_MODULES:
        if module.looks_like(value):
            return module.FORMAT
    return None


def _unsupported(value: Any) -> str | None:
    if value.__class__ is not dict:
        return None
    return next((name for name, test in UNSUPPORTED_JSON if test(value)), None)


def detect_format(head: bytes, limits: Limits | None = None) -> str:
    """Name the format of a file from its first bytes (about HEAD_SIZE), or refuse it with a reason."""
    limits = limits or DEFAULT_LIMITS
    head = head.removeprefix(b"\xef\xbb\xbf")
    layout = layout_of(head)
    if layout == "empty":
        raise FormatError("The file is empty.")
    if layout == "items":  # {"items": [...], "paging": {...}} is a Mailgun events API page
        return mailgun.FORMAT
    if layout != "not_json":
        check_depth(head, limits.max_depth)
        values = [value for _, value in itertools.islice(json_values(io.BytesIO(head), layout), 50)]
        for value in values:
            fmt = json_format(value)
            if fmt:
                return fmt
        # A first record longer than the head: its keys alone are enough.
        fmt = json_format(dict.fromkeys(first_keys(head, layout)))
        if fmt:
            return fmt
        name = next(filter(None, map(_unsupported, values)), None)
        if name:
            raise FormatError(_refusal(name))
        if len(head) < HEAD_SIZE and values and all(value.__class__ is Rejected for value in values):
            # The whole file is in the head and not one record of it reads: say why, not which formats it is not.
            raise FormatError(f"This file is not valid JSON: {values[0].reason} (record {values[0].ref}).")
        names = ", ".join(m.LABEL.split(" (")[0] for m in JSON_MODULES)
        raise FormatError(
            "This JSON file is not a send log Amends recognises: its records have none of the fields of "
            f"{names} events."
        )
    encoding = detect_encoding(head)
    check_text(head, encoding, "export the log as CSV or JSON and upload that")
    header = csv_first_row(head_text(head, encoding))
    if len(header) < 2:
        raise FormatError(
            "This file is not a send log Amends recognises: it is neither JSON nor a CSV with a header row."
        )
    names = {column_key(name) for name in header}
    for module in CSV_MODULES:
        if module.csv_looks_like(names):
            return module.CSV_FORMAT
    return generic_csv.FORMAT


def first_keys(head: bytes, layout: str) -> list[str]:
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


def guess(head: bytes) -> str | None:
    try:
        return detect_format(head)
    except FormatError:
        return None


def mismatch(fmt: str, guessed: str | None) -> str:
    if guessed and guessed != fmt:
        return (
            f"This file looks like “{FORMAT_LABELS[guessed]}”, not “{FORMAT_LABELS[fmt]}”; choose that format instead."
        )
    return f"This file is not “{FORMAT_LABELS[fmt]}”: its first records lack the fields such a log has."


def parse(
    fileobj: BinaryIO,
    fmt: str,
    *,
    mapping: dict[str, str] | None = None,
    delimiter: str | None = None,
    date_format: str | None = None,
    encoding: str = "",
    time_zone: str = "",
    limits: Limits | None = None,
) -> Iterator[Event | Rejected]:
    """Stream Events and Rejected records out of a log of format ``fmt``.

    The head of the file is checked straight away, so FormatError comes from
    this call itself; the records are then read as they are iterated.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    stream = log_stream(fileobj, limits)
    if fmt in _JSON:
        return _parse_json(stream, _JSON[fmt])
    head = head_of(stream)
    if head.strip() and layout_of(head) != "not_json":
        raise FormatError(mismatch(fmt, guess(head)))
    options = {"delimiter": delimiter, "encoding": encoding}
    if fmt == generic_csv.FORMAT:
        return generic_csv.parse(stream, mapping=mapping, date_format=date_format, time_zone=time_zone, **options)
    return _CSV[fmt].parse_csv(stream, **options)


def parse_columnar(
    fileobj: BinaryIO, fmt: str, *, limits: Limits | None = None
) -> Iterator[columnar.Batch | list[Event | Rejected]] | None:
    """Like parse(), through the columnar reader (Batches of many records, and lists of single records), read
    a chunk ahead in a thread, for a format and layout it reads (SendGrid JSON, one record a line); None
    otherwise, and then parse() reads the file.

    The same checks as parse() first: FormatError comes from this call itself.
    """
    if fmt not in columnar.FORMATS:
        return None
    stream = log_stream(fileobj, limits)
    layout = _json_layout(stream, _JSON[fmt])
    if layout not in LINE_LAYOUTS:
        return None
    return columnar.ahead(columnar.records(stream, layout))


def _json_layout(stream: io.BufferedReader, module: ModuleType) -> str:
    head = head_of(stream)
    layout = layout_of(head)
    if layout == "empty":
        raise FormatError("The file is empty.")
    if layout == "not_json":
        raise FormatError(mismatch(module.FORMAT, guess(head)))
    check_depth(head, max_depth(stream))
    _check_format(head, layout, module)
    return layout


def _parse_json(stream: io.BufferedReader, module: ModuleType) -> Iterator[Event | Rejected]:
    layout = _json_layout(stream, module)
    # starmap and chain run in C: with a million records the loop itself counts.
    results = itertools.starmap(module.convert, json_values(stream, layout))
    if module.MANY:  # several events per record
        return itertools.chain.from_iterable(results)
    return results


def _check_format(head: bytes, layout: str, module: ModuleType) -> None:
    """Refuse a file whose first objects all belong to another format."""
    values = itertools.islice(json_values(io.BytesIO(head), layout), 50)
    objects = [value for _, value in values if value.__class__ is dict][:SAMPLE]
    if objects and not any(map(module.looks_like, objects)):
        guessed = next(filter(None, map(json_format, objects)), None)
        raise FormatError(mismatch(module.FORMAT, guessed))


def csv_header(
    fileobj: BinaryIO, delimiter: str | None = None, *, encoding: str = "", limits: Limits | None = None
) -> tuple[list[str], list[list[str]]]:
    """The header and first 10 rows, for the column-mapping preview."""
    header, rows, _ = csv_preview(fileobj, delimiter, encoding=encoding, limits=limits)
    return header, rows


def csv_preview(
    fileobj: BinaryIO, delimiter: str | None = None, *, encoding: str = "", limits: Limits | None = None, rows: int = 10
) -> tuple[list[str], list[list[str]], str]:
    """The header, first rows and the encoding used (detected unless given), for the mapping page."""
    sample = csv_sample(fileobj, delimiter, encoding=encoding, limits=limits, rows=rows)
    return sample.header, sample.rows, sample.encoding


@dataclass
class CsvSample:
    """The first rows of a CSV as an import will read them: the good ones, and those it will reject (at most
    SAMPLE_REJECTED of them, with how many in all)."""

    header: list[str]
    rows: list[list[str]]
    encoding: str
    rejected: list[Rejected] = field(default_factory=list)
    rejected_count: int = 0


SAMPLE_REJECTED = 20


def csv_sample(
    fileobj: BinaryIO, delimiter: str | None = None, *, encoding: str = "", limits: Limits | None = None, rows: int = 10
) -> CsvSample:
    """The first `rows` rows of a CSV: those that read, and those the import will reject (an unclosed quote, a
    line past the limit), which are listed, not a reason to refuse the file.

    Raises FormatError only for what stops the import itself (a JSON file, no header, a line that does not decode).
    """
    stream = log_stream(fileobj, limits)
    head = head_of(stream)
    if head.strip() and layout_of(head) != "not_json":
        raise FormatError("This is a JSON file, not a CSV; choose its ESP's format instead.")
    found = open_csv(stream, encoding=encoding, delimiter=delimiter or "", limits=limits)
    sample = CsvSample(found.header, [], found.encoding)
    for _, row in itertools.islice(found.rows, rows):
        if row.__class__ is Rejected:
            sample.rejected_count += 1
            if len(sample.rejected) < SAMPLE_REJECTED:
                sample.rejected.append(row)
        else:
            sample.rows.append([cell.strip() for cell in row])
    return sample


def records_from_esp_event(esp_name: str, esp_event: Any) -> list[Event | Rejected]:
    """Read one tracking-webhook payload (anymail's `event.esp_name`, `event.esp_event`) exactly as an import
    reads the same ESP's archived events: same vocabulary, same bounce rule.  In that vocabulary `bounced`
    always means a hard, address-level bounce; anything softer is `deferred`, `rejected` or `failed`.

    Raises KeyError for an ESP Amends has no module for.
    """
    module = ANYMAIL_ESP_NAMES[esp_name]
    result = module.convert(0, esp_event)
    return result if isinstance(result, list) else [result]
