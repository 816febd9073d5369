"""Imports of uploaded files: their lifecycle, progress and rejects, and loading send logs into SendEvent."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from celery import signature
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import events_load, sendlogs
from .contacts.services import contacts_file_check, contacts_import_run, suppressions_import_run
from .ledger import ledger_compute
from .models import Import, ImportStopped, Incident
from .sendlogs.generic_csv import read_word, status_preview
from .sendlogs.readers import encoding_label
from .sendlogs.tabular import time_reader

log = logging.getLogger(__name__)

# Progress is saved between chunks: about every half second of work.
CHUNK_ROWS = 100_000
SQLITE_CHUNK_ROWS = 20_000
RUN_IMPORT_TASK = "incidents.tasks.run_import"
GENERIC_CSV = "csv"


def import_limits() -> sendlogs.Limits:
    """What one upload may cost, from the IMPORT_MAX_* settings."""
    return sendlogs.Limits(
        max_bytes=settings.IMPORT_MAX_DECOMPRESSED_BYTES,
        max_ratio=settings.IMPORT_MAX_COMPRESSION_RATIO,
        max_depth=settings.IMPORT_MAX_JSON_DEPTH,
        max_line=settings.IMPORT_MAX_LINE_BYTES,
    )


def _position(raw) -> int | None:
    try:
        return raw.tell()
    except (OSError, ValueError):
        return None


def import_create(
    *,
    kind: str,
    uploaded: UploadedFile,
    incident: Incident | None = None,
    fmt: str = "",
    mapping: dict | None = None,
    delimiter: str = "",
    date_format: str = "",
    user=None,
) -> Import:
    """Store an upload and queue it; a generic CSV send log first waits for its column mapping.

    Raises sendlogs.FormatError when the file is no send log we recognise, or no contact list (see
    contacts_file_check), before anything is stored.
    """
    imp = Import(
        kind=kind,
        incident=incident,
        original_name=uploaded.name[:255],
        format=fmt,
        mapping=mapping or {},
        delimiter=delimiter,
        date_format=date_format,
        bytes_total=uploaded.size or 0,
        created_by=user,
    )
    if kind == Import.Kind.SENDLOG:
        uploaded.seek(0)
        head = sendlogs.open_log(uploaded, import_limits()).peek(sendlogs.HEAD_SIZE)
        uploaded.seek(0)
        if not fmt or fmt == "auto":
            imp.format = sendlogs.detect_format(head, import_limits())
        if imp.format == GENERIC_CSV and not imp.mapping.get("recipient"):
            imp.status = Import.Status.NEEDS_MAPPING
            saved = incident.csv_mapping if incident else {}
            imp.mapping = saved.get("mapping", {})
            imp.delimiter = imp.delimiter or saved.get("delimiter", "")
            imp.date_format = imp.date_format or saved.get("date_format", "")
    elif kind == Import.Kind.CONTACTS:
        uploaded.seek(0)
        contacts_file_check(fileobj=uploaded, limits=import_limits())
        uploaded.seek(0)
    imp.file.save(uploaded.name, uploaded, save=False)
    imp.save()
    if imp.status == Import.Status.QUEUED:
        import_enqueue(imp=imp)
    return imp


def import_set_mapping(
    *,
    imp: Import,
    mapping: dict,
    delimiter: str,
    date_format: str,
    remember: bool,
    encoding: str = "",
    time_zone: str = "",
) -> None:
    """Queue a CSV send log with the columns, encoding and time zone chosen on its mapping page."""
    imp.mapping = {k: v for k, v in mapping.items() if v}
    imp.delimiter = delimiter
    imp.date_format = date_format
    imp.encoding = encoding
    imp.time_zone = "" if time_zone == "UTC" else time_zone
    imp.status = Import.Status.QUEUED
    imp.save(update_fields=["mapping", "delimiter", "date_format", "encoding", "time_zone", "status"])
    if remember and imp.incident:
        imp.incident.csv_mapping = {
            "mapping": imp.mapping,
            "delimiter": delimiter,
            "date_format": date_format,
            "time_zone": imp.time_zone,
        }
        imp.incident.save(update_fields=["csv_mapping", "updated"])
    import_enqueue(imp=imp)


def import_enqueue(*, imp: Import) -> None:
    """Run the import on a worker once the transaction commits (the task is named, so tasks.py can import us)."""
    import_id = imp.id
    transaction.on_commit(lambda: signature(RUN_IMPORT_TASK, args=(import_id,)).delay())


def import_local(
    *,
    incident: Incident,
    path: str,
    fmt: str = "",
    mapping: dict | None = None,
    delimiter: str = "",
    date_format: str = "",
    encoding: str = "",
    time_zone: str = "",
) -> Import:
    """Import a send log from a file on this machine, in this process (the import_sendlog command)."""
    imp = Import.objects.create(
        kind=Import.Kind.SENDLOG,
        incident=incident,
        original_name=os.path.basename(path)[:255],
        format="" if fmt == "auto" else fmt,
        mapping=mapping or {},
        delimiter=delimiter,
        date_format=date_format,
        encoding=encoding,
        time_zone=time_zone,
        bytes_total=os.path.getsize(path),
    )
    import_run(import_id=imp.id, path=path)
    imp.refresh_from_db()
    return imp


def import_run(*, import_id: int, path: str | None = None) -> Import | None:
    """Run one queued import to the end. Safe to call twice: only the caller that claims it runs it."""
    now = timezone.now()
    claimed = Import.objects.filter(id=import_id, status=Import.Status.QUEUED).update(
        status=Import.Status.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return None
    imp = Import.objects.get(id=import_id)
    try:
        if imp.kind == Import.Kind.SENDLOG:
            _run_sendlog(imp, path)
        else:
            # All or nothing: a file that fails part-way keeps none of its rows, as its message says.
            run = contacts_import_run if imp.kind == Import.Kind.CONTACTS else suppressions_import_run
            with transaction.atomic():
                run(imp=imp, limits=import_limits())
    except ImportStopped:
        log.info("import %s was discarded while running; nothing from it was kept", imp.id)
    except sendlogs.FormatError as e:
        imp.finish(Import.Status.FAILED, f"{e} Nothing from this file was kept.")
    except SoftTimeLimitExceeded:
        minutes = settings.IMPORT_TIME_LIMIT_SECONDS // 60
        imp.finish(Import.Status.FAILED, f"The import took longer than {minutes} minutes; nothing from it was kept.")
    except Exception:
        log.exception("import %s failed", imp.id)
        imp.finish(Import.Status.FAILED, "The import stopped on an unexpected error; nothing from it was kept.")
        raise
    return imp


def import_requeue_stale(*, older_than_seconds: int | None = None) -> int:
    """Imports left RUNNING by a killed worker go back to the queue.

    Their staged rows died with the worker's database session and nothing was merged, so running
    them again from the start imports each event once.
    """
    if older_than_seconds is None:
        older_than_seconds = settings.IMPORT_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = list(
        Import.objects.filter(status=Import.Status.RUNNING, heartbeat_at__lt=cutoff).values_list("id", flat=True)
    )
    for import_id in stale:
        running = Import.objects.filter(id=import_id, status=Import.Status.RUNNING, heartbeat_at__lt=cutoff)
        # A file whose worker died IMPORT_MAX_ATTEMPTS times (out of memory, killed) is not tried again.
        given_up = running.filter(attempts__gte=settings.IMPORT_MAX_ATTEMPTS).update(
            status=Import.Status.FAILED,
            finished_at=timezone.now(),
            message=f"The worker stopped {settings.IMPORT_MAX_ATTEMPTS} times on this file (killed or out of "
            "memory); it is not tried again. Nothing from it was kept.",
        )
        if not given_up and running.update(
            status=Import.Status.QUEUED, bytes_read=0, rows_read=0, rejected=0, errors=[]
        ):
            import_enqueue(imp=Import(id=import_id))
    if connection.vendor == "postgresql":
        # What dead workers loaded and nobody will merge.
        events_load.load_orphans_drop()
    return len(stale)


def import_discard(*, imp: Import, user) -> bool:
    """Stop an import that waits for a mapping, is queued or is stuck running; its file is deleted.

    A worker running it stops at its next heartbeat and keeps nothing. Returns False when it had finished.
    """
    stoppable = (Import.Status.NEEDS_MAPPING, Import.Status.QUEUED, Import.Status.RUNNING)
    who = user.get_username() if user is not None else "someone"
    if not Import.objects.filter(id=imp.id, status__in=stoppable).update(
        status=Import.Status.FAILED, finished_at=timezone.now(), message=f"Discarded by {who}; nothing was kept."
    ):
        return False
    if imp.file:
        imp.file.delete(save=False)
    return True


STAGING_COLUMNS = (
    "key",
    "recipient",
    "recipient_raw",
    "ts",
    "event",
    "message_id",
    "workflows",
    "esp_event_id",
    "detail",
)
# The time travels as epoch seconds: formatting a number is far cheaper than a datetime, row by row.
STAGING_TYPES = {
    "postgresql": "uuid, varchar(254), varchar(320), double precision, varchar(16), varchar(255), text, varchar(255), "
    "varchar(255)",
    "sqlite": "char(32), varchar(254), varchar(320), real, varchar(16), varchar(255), text, varchar(255), varchar(255)",
}
STAGING_TIME = {
    "postgresql": "to_timestamp(ts)",
    # Django reads SQLite datetimes back from naive UTC text.
    "sqlite": "strftime('%%Y-%%m-%%d %%H:%%M:%%f', ts, 'unixepoch')",
}
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def staging_rows(imp: Import, events: Iterator, states: list[int] | None = None) -> Iterator[tuple[str, ...]]:
    """Events as rows of text for the staging table; rejected records are counted on the way.

    A recipient's state an event reveals apart from its message (Mailgun's suppress-* failures: unsubscribed,
    complained) is staged as a record of its own but not counted as a row read: "Rows read" counts the file's
    events. `states[0]` counts them.
    """
    Rejected = sendlogs.Rejected
    for item in events:
        imp.rows_read += 1
        if type(item) is Rejected:
            imp.reject(item.ref, item.reason)
            continue
        nul = sendlogs.nul_field(item)
        if nul:
            imp.reject(item.ref, f"a NUL character (\\u0000) in the {nul}: no database text can hold it")
            continue
        if item.revealed:
            imp.rows_read -= 1
            if states is not None:
                states[0] += 1
        ts = item.occurred_at.timestamp()
        if item.esp_event_id:
            raw = "id\x1f" + item.esp_event_id
        else:
            raw = f"ev\x1f{item.message_id}\x1f{item.event}\x1f{item.recipient}\x1f{ts:.6f}"
        workflows = "|" + "|".join(w.replace("|", "/") for w in item.workflows) + "|" if item.workflows else ""
        recipient = item.recipient[:254]
        yield (
            hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest(),
            recipient,
            "" if item.recipient_raw == recipient else item.recipient_raw[:320],
            repr(ts),
            item.event,
            item.message_id[:255],
            workflows,
            item.esp_event_id[:255],
            item.detail[:255],
        )


def _create_staging(cursor) -> None:
    # A temporary table: no WAL, no indexes, and it dies with a killed worker's session.
    cursor.execute("DROP TABLE IF EXISTS amends_staging")
    types = STAGING_TYPES[connection.vendor].split(", ")
    cols = ", ".join(f"{name} {typ}" for name, typ in zip(STAGING_COLUMNS, types, strict=True))
    cursor.execute(f"CREATE TEMPORARY TABLE amends_staging ({cols})")


def copy_blocks(rows: Iterable[tuple[str, ...]]) -> Iterator[tuple[str, int]]:
    """Rows in COPY text format, a few thousand to a string, with how many each holds."""
    lines: list[str] = []
    for row in rows:
        line = "\t".join(row)
        if line.count("\t") != 8 or "\\" in line or "\n" in line or "\r" in line:
            line = "\t".join(field.translate(COPY_ESCAPES) for field in row)
        lines.append(line)
        if len(lines) == 2000:
            yield "\n".join(lines) + "\n", len(lines)
            lines = []
    if lines:
        yield "\n".join(lines) + "\n", len(lines)


def _load_staging(cursor, rows: Iterator[tuple[str, ...]], progress: Callable[[], None]) -> None:
    """SQLite: stream rows into the staging table, saving progress between chunks."""
    cols = ", ".join(STAGING_COLUMNS)
    placeholders = ", ".join(["%s"] * len(STAGING_COLUMNS))
    while True:
        chunk = list(islice(rows, SQLITE_CHUNK_ROWS))
        cursor.executemany(f"INSERT INTO amends_staging ({cols}) VALUES ({placeholders})", chunk)
        progress()
        if len(chunk) < SQLITE_CHUNK_ROWS:
            return


def _run_sendlog(imp: Import, path: str | None = None) -> None:
    limits = import_limits()
    pg = connection.vendor == "postgresql"
    with open(path, "rb") if path else imp.file.open("rb") as raw:
        stream = sendlogs.open_log(raw, limits)
        if not imp.format:
            imp.format = sendlogs.detect_format(stream.peek(sendlogs.HEAD_SIZE), limits)
        if imp.format == GENERIC_CSV and not imp.mapping.get("recipient"):
            raise sendlogs.FormatError(
                "This CSV is not an export Amends knows: give a column mapping, at least recipient and time."
            )
        # PostgreSQL reads SendGrid's line layouts through Polars (sendlogs/columnar.py); the rest as before.
        events = sendlogs.parse_columnar(stream, imp.format, limits=limits) if pg else None
        if events is None:
            events = sendlogs.parse(
                stream,
                imp.format,
                mapping=imp.mapping or None,
                delimiter=imp.delimiter or None,
                date_format=imp.date_format or None,
                encoding=imp.encoding,
                time_zone=imp.time_zone,
                limits=limits,
            )

        def progress() -> None:
            imp.save_progress(bytes_read=_position(raw), force=True)

        def loaded(records: int, batch: bool) -> None:
            if batch:
                imp.rows_read += records
            progress()

        states = [0]  # recipients' states staged apart from their events (staging_rows)

        with connection.cursor() as cursor:
            _create_staging(cursor)
            load = ""
            started = time.monotonic()
            try:
                if pg:
                    load = events_load.load_create(cursor, imp)
                    staged = events_load.load_items(
                        cursor,
                        load,
                        events,
                        lambda chunk: copy_blocks(staging_rows(imp, iter(chunk), states)),
                        loaded,
                        CHUNK_ROWS,
                    )
                else:
                    _load_staging(cursor, staging_rows(imp, events, states), progress)
                    staged = _count(cursor, "SELECT COUNT(*) FROM amends_staging")
                if staged == 0:
                    label = sendlogs.FORMAT_LABELS.get(imp.format, imp.format)
                    if imp.rejected:
                        first = imp.errors[0]
                        raise sendlogs.FormatError(
                            f"No event in this file could be read as {label}: "
                            f"{first['reason']} (record {first['ref']})."
                        )
                    raise sendlogs.FormatError(f"This file holds no events ({label}).")
                imp.save_progress(force=True)  # discarded meanwhile? then stop before merging anything
                read_s = time.monotonic() - started
                with transaction.atomic():
                    if pg:
                        # Not waiting for the WAL flush is safe here: a crash loses the whole transaction,
                        # Import row included, and the import is then run again from the start.
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
                        imp.imported = events_load.load_merge(cursor, imp, load, staged)
                    else:
                        imp.imported = _merge_staging(cursor, imp)
                    imp.duplicates = staged - imp.imported
                    merge_s = time.monotonic() - started - read_s
                    # In the same transaction, so "done" always comes with its ledger.
                    ledger_compute(incident=imp.incident)
                    imp.finish(Import.Status.DONE, states_note(states[0]))
                log.info(
                    "import %s: %s rows read and loaded in %.2f s, merged in %.2f s, ledger %.2f s",
                    imp.id,
                    staged,
                    read_s,
                    merge_s,
                    imp.incident.ledger_stats.get("seconds", 0),
                )
            finally:
                # The columnar reader's thread stops now, not whenever its generator is collected.
                close = getattr(events, "close", None)
                if close is not None:
                    close()
                cursor.execute("DROP TABLE IF EXISTS amends_staging")
                if load:
                    events_load.load_end(cursor, load)


def states_note(states: int) -> str:
    if not states:
        return ""
    return (
        f"{states:,} of the events read also say the recipient's state (unsubscribed, complained or bounced "
        f"before): each state is kept as a record of its own, counted in Imported as well."
    )


def _merge_staging(cursor, imp: Import) -> int:
    """SQLite: the staged rows into the events, each key once."""
    cols = "key, recipient, recipient_raw, occurred_at, event, message_id, workflows, esp_event_id, detail"
    values = ", ".join(STAGING_TIME[connection.vendor] if c == "ts" else c for c in STAGING_COLUMNS)
    cursor.execute(
        f"INSERT INTO incidents_sendevent (incident_id, source_id, {cols}) "
        # In key order the unique index is filled left to right, not at random.
        f"SELECT %s, %s, {values} FROM amends_staging WHERE true ORDER BY key "
        "ON CONFLICT (incident_id, key) DO NOTHING",
        [imp.incident_id, imp.id],
    )
    return max(cursor.rowcount, 0)


def _count(cursor, sql: str, params: list | None = None) -> int:
    cursor.execute(sql, params or [])
    return cursor.fetchone()[0]


@dataclass
class CsvPreview:
    """What the mapping page shows: the first rows as read, the encoding, how status words and times will be read."""

    header: list[str]
    rows: list[list[str]]
    encoding: str
    encoding_label: str
    # column -> [(word, how it is read)] for columns that hold status words
    status_words: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # [(the cell, the time in UTC or why it cannot be read)] for the first rows
    times: list[tuple[str, str]] = field(default_factory=list)
    # Rows among the first STATUS_SAMPLE_ROWS the import will reject (the first few), and how many in all
    rejected: list[sendlogs.Rejected] = field(default_factory=list)
    rejected_count: int = 0


PREVIEW_ROWS = 10
# Rows read to collect the distinct status words of a column.
STATUS_SAMPLE_ROWS = 2000


def import_preview(
    *,
    imp: Import,
    encoding: str = "",
    delimiter: str = "",
    event_column: str = "",
    time_column: str = "",
    date_format: str = "",
    time_zone: str = "",
) -> CsvPreview:
    """The first rows of a CSV waiting for its mapping, read with the chosen (or detected) encoding and delimiter.

    Rows the import will reject (an unclosed quote, a line past the limit) are listed in the preview, not refused.
    Raises sendlogs.FormatError when the file cannot be read that way (naming the line and the encoding).
    """
    with imp.file.open("rb") as f:
        sample = sendlogs.csv_sample(
            f,
            delimiter or imp.delimiter or None,
            encoding=encoding or imp.encoding,
            limits=import_limits(),
            rows=STATUS_SAMPLE_ROWS,
        )
    header, rows, used = sample.header, sample.rows, sample.encoding
    preview = CsvPreview(header, rows[:PREVIEW_ROWS], used, encoding_label(used))
    preview.rejected, preview.rejected_count = sample.rejected, sample.rejected_count
    for at, name in enumerate(header):
        words = list(dict.fromkeys(row[at] for row in rows if at < len(row) and row[at]))
        if not words or len(words) > 40:
            continue
        understood = sum(1 for word in words if read_word(word))
        if name == event_column or (not event_column and understood * 2 > len(words)):
            preview.status_words[name] = status_preview(words)
    if time_column in header:
        at = header.index(time_column)
        read = time_reader(date_format or None, time_zone or None)
        for row in rows[:5]:
            value = row[at] if at < len(row) else ""
            moment = read(value) if value else None
            preview.times.append((value, moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "cannot be read"))
    return preview
