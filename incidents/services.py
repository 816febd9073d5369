"""Work that spans models: imports, the ledger, contacts and the suppression list."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import BinaryIO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from . import addresses, parsers
from .models import AffectedPerson, Contact, Import, Incident, Suppression

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0
# Progress is saved between chunks: about every half second of work.
CHUNK_ROWS = 100_000
SQLITE_CHUNK_ROWS = 20_000


# Incidents


def incident_create(
    *,
    title: str,
    started_at: datetime,
    ended_at: datetime | None = None,
    workflows: Iterable[str] = (),
    owner=None,
    **fields,
) -> Incident:
    incident = Incident(
        title=title,
        started_at=started_at,
        ended_at=ended_at,
        workflows=[w.strip() for w in workflows if w.strip()],
        owner=owner,
        **fields,
    )
    incident.full_clean()
    incident.save()
    return incident


def incident_update(*, incident: Incident, changed: Iterable[str]) -> None:
    """Save an edited incident; the ledger depends on the window, workflows and tiers."""
    incident.save()
    if {"started_at", "ended_at", "workflows", "tier_bounds"} & set(changed):
        ledger_compute(incident=incident)


# Imports


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

    Raises parsers.FormatError when the file is no send log we recognise, before anything is stored.
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
        head = parsers.open_log(uploaded).peek(parsers.HEAD_SIZE)
        uploaded.seek(0)
        if not fmt or fmt == "auto":
            imp.format = parsers.detect_format(head)
        if imp.format == "csv" and not imp.mapping.get("recipient"):
            imp.status = Import.Status.NEEDS_MAPPING
            saved = incident.csv_mapping if incident else {}
            imp.mapping = saved.get("mapping", {})
            imp.delimiter = imp.delimiter or saved.get("delimiter", "")
            imp.date_format = imp.date_format or saved.get("date_format", "")
    imp.file.save(uploaded.name, uploaded, save=False)
    imp.save()
    if imp.status == Import.Status.QUEUED:
        import_enqueue(imp=imp)
    return imp


def import_set_mapping(*, imp: Import, mapping: dict, delimiter: str, date_format: str, remember: bool) -> None:
    imp.mapping = {k: v for k, v in mapping.items() if v}
    imp.delimiter = delimiter
    imp.date_format = date_format
    imp.status = Import.Status.QUEUED
    imp.save(update_fields=["mapping", "delimiter", "date_format", "status"])
    if remember and imp.incident:
        imp.incident.csv_mapping = {"mapping": imp.mapping, "delimiter": delimiter, "date_format": date_format}
        imp.incident.save(update_fields=["csv_mapping", "updated"])
    import_enqueue(imp=imp)


def import_enqueue(*, imp: Import) -> None:
    from .tasks import run_import

    import_id = imp.id
    transaction.on_commit(lambda: run_import.delay(import_id))


def import_preview(*, imp: Import) -> tuple[list[str], list[list[str]]]:
    with imp.file.open("rb") as f:
        return parsers.csv_header(parsers.open_log(f), imp.delimiter or None)


def import_local(
    *,
    incident: Incident,
    path: str,
    fmt: str = "",
    mapping: dict | None = None,
    delimiter: str = "",
    date_format: str = "",
) -> Import:
    """Import a send log from a file on this machine, in this process (the import_sendlog command)."""
    import os

    imp = Import.objects.create(
        kind=Import.Kind.SENDLOG,
        incident=incident,
        original_name=os.path.basename(path)[:255],
        format="" if fmt == "auto" else fmt,
        mapping=mapping or {},
        delimiter=delimiter,
        date_format=date_format,
        bytes_total=os.path.getsize(path),
    )
    import_run(import_id=imp.id, path=path)
    imp.refresh_from_db()
    return imp


def import_run(*, import_id: int, path: str | None = None) -> Import | None:
    """Run one queued import to the end. Safe to call twice: only the caller that claims it runs it."""
    now = timezone.now()
    claimed = Import.objects.filter(id=import_id, status=Import.Status.QUEUED).update(
        status=Import.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if claimed != 1:
        return None
    imp = Import.objects.get(id=import_id)
    try:
        if imp.kind == Import.Kind.SENDLOG:
            _run_sendlog(imp, path)
        elif imp.kind == Import.Kind.CONTACTS:
            _run_contacts(imp)
        else:
            _run_suppressions(imp)
    except parsers.FormatError as e:
        _finish(imp, Import.Status.FAILED, str(e))
    except Exception:
        log.exception("import %s failed", imp.id)
        _finish(imp, Import.Status.FAILED, "The import stopped on an unexpected error; nothing from it was kept.")
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
        requeued = Import.objects.filter(id=import_id, status=Import.Status.RUNNING, heartbeat_at__lt=cutoff).update(
            status=Import.Status.QUEUED, bytes_read=0, rows_read=0, rejected=0, errors=[]
        )
        if requeued:
            import_enqueue(imp=Import(id=import_id))
    return len(stale)


def _finish(imp: Import, status: str, message: str = "") -> None:
    imp.status = status
    imp.message = message
    imp.finished_at = timezone.now()
    if status == Import.Status.DONE:
        imp.bytes_read = imp.bytes_total
    imp.save()


class _Progress:
    """Writes rows read and bytes read to the Import row now and then, for the progress bar."""

    def __init__(self, imp: Import, raw: BinaryIO) -> None:
        self.imp = imp
        self.raw = raw
        self.last = time.monotonic()

    def maybe_save(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        try:
            self.imp.bytes_read = self.raw.tell()
        except (OSError, ValueError):
            pass
        Import.objects.filter(id=self.imp.id).update(
            bytes_read=self.imp.bytes_read,
            rows_read=self.imp.rows_read,
            rejected=self.imp.rejected,
            heartbeat_at=timezone.now(),
        )


def _reject(imp: Import, ref: int, reason: str) -> None:
    imp.rejected += 1
    if len(imp.errors) < Import.MAX_ERRORS:
        imp.errors.append({"ref": ref, "reason": reason})


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


def _staging_rows(imp: Import, events: Iterator) -> Iterator[tuple[str, ...]]:
    """Events as rows of text for the staging table; rejected records are counted on the way."""
    Rejected = parsers.Rejected
    for n, item in enumerate(events, 1):
        imp.rows_read = n
        if type(item) is Rejected:
            _reject(imp, item.ref, item.reason)
            continue
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


def _copy_blocks(rows: Iterable[tuple[str, ...]]) -> Iterator[tuple[str, int]]:
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


def _load_staging(cursor, rows: Iterator[tuple[str, ...]], progress: _Progress) -> None:
    """Stream rows into the staging table (COPY on PostgreSQL), saving progress between chunks."""
    cols = ", ".join(STAGING_COLUMNS)
    while True:
        if connection.vendor == "postgresql":
            loaded = 0
            with cursor.cursor.copy(f"COPY amends_staging ({cols}) FROM STDIN") as copy:
                for block, count in _copy_blocks(islice(rows, CHUNK_ROWS)):
                    copy.write(block)
                    loaded += count
            wanted = CHUNK_ROWS
        else:
            chunk = list(islice(rows, SQLITE_CHUNK_ROWS))
            placeholders = ", ".join(["%s"] * len(STAGING_COLUMNS))
            cursor.executemany(f"INSERT INTO amends_staging ({cols}) VALUES ({placeholders})", chunk)
            loaded, wanted = len(chunk), SQLITE_CHUNK_ROWS
        progress.maybe_save(force=True)
        if loaded < wanted:
            return


def _run_sendlog(imp: Import, path: str | None = None) -> None:
    with open(path, "rb") if path else imp.file.open("rb") as raw:
        stream = parsers.open_log(raw)
        if not imp.format:
            imp.format = parsers.detect_format(stream.peek(parsers.HEAD_SIZE))
        if imp.format == "csv" and not imp.mapping.get("recipient"):
            raise parsers.FormatError(
                "This CSV is not an export Amends knows: give a column mapping, at least recipient and time."
            )
        events = parsers.parse(
            stream,
            imp.format,
            mapping=imp.mapping or None,
            delimiter=imp.delimiter or None,
            date_format=imp.date_format or None,
        )
        progress = _Progress(imp, raw)
        with connection.cursor() as cursor:
            _create_staging(cursor)
            try:
                _load_staging(cursor, _staging_rows(imp, events), progress)
                staged = _count(cursor, "SELECT COUNT(*) FROM amends_staging")
                if staged == 0:
                    label = parsers.FORMAT_LABELS.get(imp.format, imp.format)
                    if imp.rejected:
                        first = imp.errors[0]
                        raise parsers.FormatError(
                            f"No event in this file could be read as {label}: "
                            f"{first['reason']} (record {first['ref']})."
                        )
                    raise parsers.FormatError(f"This file holds no events ({label}).")
                cols = "key, recipient, recipient_raw, occurred_at, event, message_id, workflows, esp_event_id, detail"
                values = ", ".join(STAGING_TIME[connection.vendor] if c == "ts" else c for c in STAGING_COLUMNS)
                with transaction.atomic():
                    if connection.vendor == "postgresql":
                        # Not waiting for the WAL flush is safe here: a crash loses the whole transaction,
                        # Import row included, and the import is then run again from the start.
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                    cursor.execute(
                        f"INSERT INTO incidents_sendevent (incident_id, source_id, {cols}) "
                        # In key order the unique index is filled left to right, not at random.
                        f"SELECT %s, %s, {values} FROM amends_staging WHERE true ORDER BY key "
                        "ON CONFLICT (incident_id, key) DO NOTHING",
                        [imp.incident_id, imp.id],
                    )
                    imp.imported = max(cursor.rowcount, 0)
                    imp.duplicates = staged - imp.imported
                    if connection.vendor == "postgresql" and imp.imported:
                        # Fresh statistics, or the planner takes a bulk-loaded incident for an empty one.
                        cursor.execute("ANALYZE incidents_sendevent")
                    # In the same transaction, so "done" always comes with its ledger.
                    ledger_compute(incident=imp.incident)
                    _finish(imp, Import.Status.DONE)
            finally:
                cursor.execute("DROP TABLE IF EXISTS amends_staging")


def _count(cursor, sql: str, params: list | None = None) -> int:
    cursor.execute(sql, params or [])
    return cursor.fetchone()[0]


# The ledger


def ledger_compute(*, incident: Incident) -> dict:
    """Recompute who was hit, how often and their state now, set-wise in the database."""
    pg = connection.vendor == "postgresql"
    start = connection.ops.adapt_datetimefield_value(incident.started_at)
    where = ["incident_id = %s", "occurred_at >= %s"]
    params: list = [incident.id, start]
    if incident.ended_at:
        where.append("occurred_at <= %s")
        params.append(connection.ops.adapt_datetimefield_value(incident.ended_at))
    if incident.workflows:
        where.append("(" + " OR ".join(["workflows LIKE %s"] * len(incident.workflows)) + ")")
        params += [f"%|{w.replace('|', '/')}|%" for w in incident.workflows]
    # A message counts once however many events it produced; one the ESP dropped was never sent.
    msgs = (
        "SELECT recipient, CASE WHEN message_id <> '' THEN message_id ELSE {key} END AS mid, MIN(occurred_at) AS at "
        "FROM incidents_sendevent WHERE {where} AND event <> 'dropped' AND (message_id <> '' OR event = 'sent') "
        "GROUP BY recipient, CASE WHEN message_id <> '' THEN message_id ELSE {key} END"
    ).format(key="key::text" if pg else "key", where=" AND ".join(where))
    if pg:
        window = "ORDER BY at RANGE BETWEEN CURRENT ROW AND INTERVAL '599.999 seconds' FOLLOWING"
    else:
        window = f"ORDER BY julianday(at) RANGE BETWEEN CURRENT ROW AND {599.999 / 86400:.12f} FOLLOWING"
    tier = (
        "CASE "
        + " ".join(
            f"WHEN agg.messages >= {int(low)} THEN {i}" for i, low in reversed(list(enumerate(incident.tier_bounds)))
        )
        + " ELSE 0 END"
    )
    sql = f"""
        INSERT INTO incidents_affectedperson
            (incident_id, email, messages, first_at, last_at, max_in_10_min, bounced, state, tier)
        WITH msgs AS (SELECT recipient, mid, at FROM amends_msgs),
        agg AS (
            SELECT recipient, COUNT(*) AS messages, MIN(at) AS first_at, MAX(at) AS last_at, MAX(n) AS peak
            FROM (SELECT recipient, at, COUNT(*) OVER (PARTITION BY recipient {window}) AS n FROM msgs) w
            GROUP BY recipient
        ),
        after AS (
            SELECT recipient,
                MAX(CASE WHEN event = 'complained' THEN 1 ELSE 0 END) AS complained,
                MAX(CASE WHEN event = 'bounced' THEN 1 ELSE 0 END) AS bounced,
                MAX(CASE WHEN event = 'unsubscribed' THEN occurred_at END) AS unsub_at,
                MAX(CASE WHEN event = 'resubscribed' THEN occurred_at END) AS resub_at
            FROM incidents_sendevent
            WHERE incident_id = %s AND occurred_at >= %s
              AND event IN ('complained', 'bounced', 'unsubscribed', 'resubscribed')
            GROUP BY recipient
        ),
        sup AS (
            SELECT email,
                MAX(CASE WHEN reason = 'complained' THEN 1 ELSE 0 END) AS complained,
                MAX(CASE WHEN reason IN ('unsubscribed', 'never_again', 'manual') THEN 1 ELSE 0 END) AS unsub,
                MAX(CASE WHEN reason = 'hard_bounce' THEN 1 ELSE 0 END) AS bounced
            FROM incidents_suppression GROUP BY email
        )
        SELECT %s, agg.recipient, agg.messages, agg.first_at, agg.last_at, agg.peak,
            (COALESCE(after.bounced, 0) = 1 OR COALESCE(sup.bounced, 0) = 1),
            CASE
                WHEN COALESCE(after.complained, 0) = 1 OR COALESCE(sup.complained, 0) = 1 THEN 'complained'
                WHEN COALESCE(sup.unsub, 0) = 1
                    OR (after.unsub_at IS NOT NULL AND (after.resub_at IS NULL OR after.resub_at < after.unsub_at))
                    THEN 'unsubscribed'
                WHEN COALESCE(after.bounced, 0) = 1 OR COALESCE(sup.bounced, 0) = 1 THEN 'bounced'
                ELSE 'subscribed'
            END,
            {tier}
        FROM agg
        LEFT JOIN after ON after.recipient = agg.recipient
        LEFT JOIN sup ON sup.email = agg.recipient
    """
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        if pg:
            # Sorting ~1M messages per person stays in memory instead of spilling to disk.
            cursor.execute("SET LOCAL work_mem = '128MB'")
        AffectedPerson.objects.filter(incident=incident).delete()
        # Messages are read three times below: work them out once.
        cursor.execute("DROP TABLE IF EXISTS amends_msgs")
        cursor.execute(f"CREATE TEMPORARY TABLE amends_msgs AS {msgs}", params)
        cursor.execute(sql, [incident.id, start, incident.id])
        stats = _ledger_stats(incident, cursor, pg)
        cursor.execute("DROP TABLE amends_msgs")
        stats["seconds"] = round(time.monotonic() - started, 3)
        incident.ledger_stats = stats
        incident.ledger_computed_at = timezone.now()
        incident.save(update_fields=["ledger_stats", "ledger_computed_at"])
    return stats


def _ledger_stats(incident: Incident, cursor, pg: bool) -> dict:
    people = AffectedPerson.objects.filter(incident=incident)
    totals = people.aggregate(
        n_people=Count("id"),
        n_messages=Sum("messages"),
        max_messages=Max("messages"),
        lo=Min("first_at"),
        hi=Max("last_at"),
    )
    by_state = dict(people.values_list("state").annotate(n=Count("id")).order_by())
    by_tier = dict(people.values_list("tier").annotate(n=Count("id")).order_by())
    by_count = _histogram(people.values_list("messages").annotate(n=Count("id")).order_by())

    # Messages over time: minute buckets, wider when the incident ran for days.
    lo, hi = totals["lo"], totals["hi"]
    per_bucket: list[list] = []
    bucket = 60
    if lo is not None:
        lo, hi = _as_datetime(lo), _as_datetime(hi)
        span = (hi - lo).total_seconds()
        bucket = max(60, math.ceil(span / 1440 / 60) * 60)
        epoch = "EXTRACT(EPOCH FROM at)" if pg else "(julianday(at) - 2440587.5) * 86400.0"
        cursor.execute(
            f"SELECT CAST(FLOOR({epoch} / {bucket}) AS BIGINT) AS b, COUNT(*) FROM amends_msgs GROUP BY 1 ORDER BY 1"
            if pg
            else f"SELECT CAST({epoch} / {bucket} AS INTEGER) AS b, COUNT(*) FROM amends_msgs GROUP BY 1 ORDER BY 1"
        )
        counts = dict(cursor.fetchall())
        first, last = min(counts), max(counts)
        per_bucket = [
            [datetime.fromtimestamp(b * bucket, tz=UTC).isoformat(), counts.get(b, 0)] for b in range(first, last + 1)
        ]
    labels = incident.tier_labels()
    return {
        "people": totals["n_people"] or 0,
        "messages": totals["n_messages"] or 0,
        "max_messages": totals["max_messages"] or 0,
        "by_state": {state: by_state.get(state, 0) for state in AffectedPerson.State.values},
        "by_tier": [[labels[i], by_tier.get(i, 0)] for i in range(len(labels))],
        "by_count": [[m, n] for m, n in by_count],
        "bucket_seconds": bucket,
        "per_bucket": per_bucket,
    }


COUNT_BINS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 50, 100, 200, 500, 1000]


def _histogram(counts: Iterable[tuple[int, int]]) -> list[list]:
    """People per number of messages, in bins that widen as counts grow, so a long tail stays readable."""
    bins = [0] * len(COUNT_BINS)
    for messages, n in counts:
        i = max(i for i, low in enumerate(COUNT_BINS) if messages >= low) if messages >= 1 else 0
        bins[i] += n
    last = max((i for i, n in enumerate(bins) if n), default=-1)
    labels = []
    for i, low in enumerate(COUNT_BINS):
        high = COUNT_BINS[i + 1] - 1 if i + 1 < len(COUNT_BINS) else None
        labels.append(str(low) if high == low else f"{low}-{high}" if high else f"{low}+")
    return [[labels[i], bins[i]] for i in range(last + 1)]


def _as_datetime(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def ledger_rows(*, incident: Incident) -> Iterator[dict]:
    labels = incident.tier_labels()
    qs = AffectedPerson.objects.filter(incident=incident).order_by("-messages", "email")
    for p in qs.iterator(chunk_size=5000):
        yield {
            "email": p.email,
            "messages": p.messages,
            "first_at": p.first_at.isoformat(),
            "last_at": p.last_at.isoformat(),
            "max_in_10_min": p.max_in_10_min,
            "state": p.state,
            "tier": labels[p.tier] if p.tier < len(labels) else "",
        }


LEDGER_COLUMNS = ["email", "messages", "first_at", "last_at", "max_in_10_min", "state", "tier"]


def csv_safe(value) -> str:
    """Spreadsheets run cells that start with = + - @ (or tab/CR) as formulas; quote them as text."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def ledger_export_csv(*, incident: Incident) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(LEDGER_COLUMNS)
    for row in ledger_rows(incident=incident):
        writer.writerow([csv_safe(row[c]) if isinstance(row[c], str) else row[c] for c in LEDGER_COLUMNS])
        if buf.tell() > 65536:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


# Contacts and the suppression list


def _normalise_header(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch.isalnum())


CONTACT_COLUMNS = {
    "email": ("email", "emailaddress", "mail"),
    "first_name": ("firstname", "givenname", "first"),
    "last_name": ("lastname", "surname", "familyname", "last"),
    "address_line1": ("addressline1", "address1", "address", "street", "streetaddress"),
    "address_line2": ("addressline2", "address2"),
    "city": ("city", "town", "locality"),
    "region": ("region", "state", "province", "county", "countryarea"),
    "postal_code": ("postalcode", "postcode", "zip", "zipcode"),
    "country": ("country", "countrycode"),
    "language": ("language", "lang", "locale"),
}


def _text_rows(imp: Import) -> tuple[csv.DictReader, BinaryIO]:
    raw = imp.file.open("rb")
    stream = parsers.open_log(raw)
    sample = stream.peek(8192)[:8192].decode("utf-8", errors="ignore")
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    return csv.DictReader(text, dialect=dialect), raw


def _run_contacts(imp: Import) -> None:
    reader, raw = _text_rows(imp)
    with raw:
        columns = {}
        for field in reader.fieldnames or []:
            key = _normalise_header(field)
            for target, names in CONTACT_COLUMNS.items():
                if key in names and target not in columns:
                    columns[target] = field
        if "email" not in columns:
            raise parsers.FormatError(
                f"This file has no email column (its columns: {', '.join(reader.fieldnames or []) or 'none'})."
            )
        progress = _Progress(imp, raw)
        invalid = 0
        batch: dict[str, Contact] = {}
        for line, row in enumerate(reader, 2):
            imp.rows_read += 1
            values = {target: (row.get(field) or "").strip() for target, field in columns.items()}
            email = values.pop("email").lower()
            if "@" not in email:
                _reject(imp, line, f"no valid email address ({email!r})" if email else "no email address")
                continue
            values["country"] = values.get("country", "").upper()[:2]
            contact = Contact(email=email, **values)
            contact_check(contact=contact)
            if not contact.address_valid:
                invalid += 1
            batch[email] = contact
            if len(batch) >= 2000:
                imp.imported += _upsert_contacts(batch.values(), list(columns))
                batch = {}
                progress.maybe_save()
        imp.imported += _upsert_contacts(batch.values(), list(columns))
    note = f"{invalid} contacts have an address that is missing or not valid: kept and flagged." if invalid else ""
    _finish(imp, Import.Status.DONE, note)


def _upsert_contacts(contacts: Iterable[Contact], columns: list[str]) -> int:
    contacts = list(contacts)
    fields = [c for c in columns if c != "email"] + ["address_valid", "address_problems", "updated"]
    now = timezone.now()
    for c in contacts:
        c.created = c.updated = now
    Contact.objects.bulk_create(contacts, update_conflicts=True, unique_fields=["email"], update_fields=fields)
    return len(contacts)


SUPPRESSION_EMAIL_COLUMNS = ("email", "emailaddress", "address", "recipient", "mail")
SUPPRESSION_REASON_COLUMNS = ("reason", "suppressionreason", "type", "status", "category")


def suppression_reason(text: str, default: str) -> str:
    """Map an ESP's reason text (HardBounce, SpamComplaint, BOUNCE, unsubscribe...) to ours."""
    t = text.lower()
    if "complain" in t or "spam" in t:
        return Suppression.Reason.COMPLAINED
    if "bounce" in t or "invalid" in t:
        return Suppression.Reason.HARD_BOUNCE
    if "unsub" in t:
        return Suppression.Reason.UNSUBSCRIBED
    if "manual" in t:
        return Suppression.Reason.MANUAL
    return default


def _run_suppressions(imp: Import) -> None:
    reader, raw = _text_rows(imp)
    default = imp.mapping.get("reason") or Suppression.Reason.UNSUBSCRIBED
    with raw:
        by_key = {_normalise_header(f): f for f in reader.fieldnames or []}
        email_col = next((by_key[k] for k in SUPPRESSION_EMAIL_COLUMNS if k in by_key), None)
        reason_col = next((by_key[k] for k in SUPPRESSION_REASON_COLUMNS if k in by_key), None)
        if email_col is None:
            raise parsers.FormatError(
                f"This file has no email column (its columns: {', '.join(reader.fieldnames or []) or 'none'})."
            )
        progress = _Progress(imp, raw)
        batch = []
        for line, row in enumerate(reader, 2):
            imp.rows_read += 1
            email = (row.get(email_col) or "").strip().lower()
            if "@" not in email:
                _reject(imp, line, f"no valid email address ({email!r})" if email else "no email address")
                continue
            reason = suppression_reason(row.get(reason_col) or "", default) if reason_col else default
            batch.append(Suppression(email=email, reason=reason, source=f"import: {imp.original_name}"[:200]))
            if len(batch) >= 5000:
                imp.imported += suppression_add_many(entries=batch)
                batch = []
                progress.maybe_save()
        imp.imported += suppression_add_many(entries=batch)
        imp.duplicates = imp.rows_read - imp.rejected - imp.imported
    _finish(imp, Import.Status.DONE)


def suppression_add_many(*, entries: list[Suppression]) -> int:
    """Add what is not on the list yet; returns how many were new (counting the whole table was O(n))."""
    wanted = {(e.email, e.reason): e for e in entries}
    existing = set(Suppression.objects.filter(email__in={email for email, _ in wanted}).values_list("email", "reason"))
    new = [e for key, e in wanted.items() if key not in existing]
    Suppression.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def suppression_add(*, email: str, reason: str, source: str = "") -> Suppression:
    entry, _ = Suppression.objects.get_or_create(
        email=email.strip().lower(), reason=reason, defaults={"source": source[:200]}
    )
    return entry


def is_suppressed(email: str) -> bool:
    return Suppression.objects.filter(email=email.strip().lower()).exists()


def contact_check(*, contact: Contact) -> None:
    check = addresses.address_check(contact)
    contact.address_valid = check.valid
    contact.address_problems = "; ".join(check.problems)


def contact_save(*, contact: Contact) -> Contact:
    """Save a contact edited by hand, checking its address again."""
    contact_check(contact=contact)
    contact.save()
    return contact


def contacts_invalid_count() -> int:
    return Contact.objects.filter(address_valid=False).count()
