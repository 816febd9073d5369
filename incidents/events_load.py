"""Loading a send log's events on PostgreSQL, where send events are partitioned by incident (migration 0010).

Every import loads into a table of its own (`incidents_sendevent_load<import id>`), committed as it goes so the
progress bar and the heartbeat are seen, without indexes. Its merge, in one transaction with the ledger:
- the incident's first events: the table gets its indexes built once (duplicate keys removed first when there
  are any) and is attached as the incident's partition: no per-row index insertion and no second copy;
- an incident that has events already: INSERT ... ON CONFLICT DO NOTHING into it, and the table is dropped.
A worker killed before the merge leaves its load table behind, never attached: the next run of the import,
or the requeue that gives up on it, drops it. Imports of one incident merge one at a time (an advisory lock).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from django.db import IntegrityError, connection, transaction

from .models import Import
from .sendlogs.columnar import LOAD_COLUMNS, Batch

EVENT_COLUMNS = "key, recipient, recipient_raw, occurred_at, event, message_id, workflows, esp_event_id, detail"
ALL_COLUMNS = f"id, {EVENT_COLUMNS}, incident_id, source_id"
# The row lock class of pg_advisory_xact_lock(class, incident): one merge per incident at a time.
MERGE_LOCK = 1_407_001
# The statistics target of the ANALYZE after a merge (PostgreSQL's default is 100, a sample of 300 rows per unit).
EVENTS_STATISTICS_TARGET = 10
LOAD_TABLE = """
    CREATE TABLE {name} (
        id bigint NOT NULL DEFAULT nextval('{sequence}'::regclass),
        key uuid NOT NULL,
        recipient varchar(254) NOT NULL,
        recipient_raw varchar(320) NOT NULL,
        occurred_at timestamp with time zone NOT NULL,
        event varchar(16) NOT NULL,
        message_id varchar(255) NOT NULL,
        workflows text NOT NULL,
        esp_event_id varchar(255) NOT NULL,
        detail varchar(255) NOT NULL DEFAULT '',
        incident_id bigint NOT NULL DEFAULT {incident} CHECK (incident_id = {incident}),
        source_id bigint DEFAULT {source}
    )
"""
SLOW_INSERT = (
    "INSERT INTO {name} (key, recipient, recipient_raw, occurred_at, event, message_id, workflows, esp_event_id, "
    "detail) SELECT key, recipient, recipient_raw, to_timestamp(ts), event, message_id, workflows, esp_event_id, "
    "detail FROM amends_staging"
)


def load_table(import_id: int) -> str:
    return f"incidents_sendevent_load{int(import_id)}"


def partition_table(incident_id: int) -> str:
    return f"incidents_sendevent_{int(incident_id)}"


def load_create(cursor, imp: Import) -> str:
    name = load_table(imp.id)
    # Each COPY commits on its own: not waiting for its WAL flush is safe, as a crash loses only what the
    # rerun loads again from the start (load_end() sets it back).
    cursor.execute("SET synchronous_commit TO OFF")
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute("SELECT pg_get_serial_sequence('incidents_sendevent', 'id')")
    sequence = cursor.fetchone()[0]
    cursor.execute(LOAD_TABLE.format(name=name, sequence=sequence, incident=int(imp.incident_id), source=int(imp.id)))
    return name


def load_end(cursor, name: str) -> None:
    """After the merge, or after a failure: the load table goes (unless it became the partition)."""
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute("RESET synchronous_commit")


def load_batch(cursor, name: str, batch: Batch) -> None:
    """Polars' rows, in COPY's text format, straight into the load table."""
    columns = ", ".join(LOAD_COLUMNS)
    data = batch.copy_text()
    with cursor.cursor.copy(f"COPY {name} ({columns}) FROM STDIN (FORMAT text)") as copy:
        view = memoryview(data)
        for start in range(0, len(data), 1 << 20):
            copy.write(view[start : start + (1 << 20)])


def load_rows(cursor, name: str, blocks: Iterable[tuple[str, int]]) -> int:
    """Rows of the Python readers, in COPY text, through the temporary staging table into the load table."""
    from_staging = 0
    with cursor.cursor.copy(
        "COPY amends_staging (key, recipient, recipient_raw, ts, event, message_id, workflows, esp_event_id, "
        "detail) FROM STDIN"
    ) as copy:
        for block, count in blocks:
            copy.write(block)
            from_staging += count
    if from_staging:
        cursor.execute(SLOW_INSERT.format(name=name))
        cursor.execute("TRUNCATE amends_staging")
    return from_staging


def load_merge(cursor, imp: Import, name: str, staged: int) -> int:
    """Merge the load table into the incident's events (inside the caller's transaction); returns how many
    events were new."""
    incident = int(imp.incident_id)
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [MERGE_LOCK, incident])
    cursor.execute("SELECT 1 FROM incidents_sendevent WHERE incident_id = %s LIMIT 1", [incident])
    # Events already (in its partition, or in the default one), or a partition emptied since (retention).
    if cursor.fetchone() is not None or _partition_of(cursor, incident) is not None:
        cursor.execute(
            f"INSERT INTO incidents_sendevent ({ALL_COLUMNS}) SELECT {ALL_COLUMNS} FROM {name} "
            "WHERE true ORDER BY key ON CONFLICT (incident_id, key) DO NOTHING"
        )
        imported = max(cursor.rowcount, 0)
        cursor.execute(f"DROP TABLE {name}")
        target = _partition_of(cursor, incident)
    else:
        # Most logs hold each event once: build the unique index straight away, and only when it finds a
        # duplicate key remove the extra copies (any one of equal keys is kept, as ON CONFLICT would).
        # The same columns in the same order as the parent's constraint, so ATTACH takes this index as it is.
        unique = f"ALTER TABLE {name} ADD CONSTRAINT {name}_key UNIQUE (key, incident_id)"
        try:
            with transaction.atomic():
                cursor.execute(unique)
            removed = 0
        except IntegrityError:
            cursor.execute(
                f"DELETE FROM {name} WHERE ctid IN (SELECT ctid FROM (SELECT ctid, "
                f"row_number() OVER (PARTITION BY key ORDER BY id) AS n FROM {name}) d WHERE n > 1)"
            )
            removed = max(cursor.rowcount, 0)
            cursor.execute(unique)
        imported = staged - removed
        cursor.execute(f"CREATE INDEX {name}_id ON {name} (id)")
        target = partition_table(incident)
        cursor.execute(f"ALTER TABLE {name} RENAME TO {target}")
        cursor.execute(f"ALTER TABLE incidents_sendevent ATTACH PARTITION {target} FOR VALUES IN ({incident})")
    if imported and target:
        # Fresh statistics, or the planner takes a bulk-loaded incident for an empty one. A sample of 3,000 rows
        # (statistics target 10) instead of 30,000: the only statement that plans from these columns is the
        # ledger's grouping, which kept its plan and its time (2.40 against 2.42 s a million events), while the
        # ANALYZE went from 0.16 s to 0.02 s, about 3% of a 1,000,000-event import.
        cursor.execute(f"SET LOCAL default_statistics_target = {EVENTS_STATISTICS_TARGET}")
        cursor.execute(f"ANALYZE {target}")
        cursor.execute("SET LOCAL default_statistics_target TO DEFAULT")
    return imported


def _partition_of(cursor, incident: int) -> str | None:
    cursor.execute("SELECT to_regclass(%s)::text", [partition_table(incident)])
    return cursor.fetchone()[0]


def load_orphans_drop() -> int:
    """Drop load tables whose import is no longer queued or running (a worker died, then it was given up
    or discarded)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'incidents\\_sendevent\\_load%%'")
        names = [row[0] for row in cursor.fetchall()]
        ids = {int(name.removeprefix("incidents_sendevent_load")): name for name in names}
        alive = set(
            Import.objects.filter(id__in=ids, status__in=[Import.Status.QUEUED, Import.Status.RUNNING]).values_list(
                "id", flat=True
            )
        )
        for import_id, name in ids.items():
            if import_id not in alive:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return len(ids) - len(alive)


def partition_drop(*, incident_id: int) -> None:
    """Drop an incident's partition once the incident is gone (its rows were deleted with it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {partition_table(incident_id)}")


def incident_deleting(sender, instance, **kwargs) -> None:
    """pre_delete of Incident: its partition is dropped in the deleting transaction, so the cascade that
    follows has no rows to delete one by one (a rollback brings the partition back)."""
    if connection.vendor == "postgresql" and instance.id is not None:
        partition_drop(incident_id=instance.id)


def load_items(
    cursor,
    name: str,
    items: Iterator,
    rows_of: Callable[[list], Iterable[tuple[str, int]]],
    progress: Callable[[int, bool], None],
    chunk_rows: int,
) -> int:
    """Send every item to the load table: Polars' batches as they come, Python's records (alone or in lists)
    a chunk at a time.

    `rows_of` turns Python records into COPY text blocks (counting them, and the rejected ones);
    `progress(records, batch)` is called after each load. Returns the rows staged.
    """
    staged = 0
    pending: list = []
    for item in items:
        if type(item) is Batch:
            if pending:
                staged += load_rows(cursor, name, rows_of(pending))
                pending = []
            load_batch(cursor, name, item)
            staged += item.records
            progress(item.records, True)
        else:
            if type(item) is list:
                pending.extend(item)
            else:
                pending.append(item)
            if len(pending) >= chunk_rows:
                staged += load_rows(cursor, name, rows_of(pending))
                progress(len(pending), False)
                pending = []
    if pending:
        staged += load_rows(cursor, name, rows_of(pending))
        progress(len(pending), False)
    return staged
