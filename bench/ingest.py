"""Send-log ingest benchmark: N SendGrid events (default 1,000,000) through the real import path on PostgreSQL.

Each round imports the file into a fresh incident (read and parse, load, merge; the ledger computed in the same
transaction is timed on its own), recomputes the ledger, then loads the same rows by a bare COPY into an empty
table right after: the import and its ceiling see the same machine, which on a shared one changes by a third
from minute to minute. Prints each round and the medians (events/s, COPY rows/s, their ratio, the ledger), peak
memory; the last line is JSON. The file is written streaming to a temporary folder and removed, each round's
incident (and its partition) deleted: the bench runs again and again on the same database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/amends_bench .venv/bin/python bench/ingest.py [--events N]
        [--rounds N] [--options]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/amends_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def generate(path: Path, events: int, seed: int = 7) -> tuple[int, int]:
    """A JSON array of SendGrid events, one per line, with a burst: most people get a few, some hundreds."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    written = people = 0
    with open(path, "wb") as out:
        out.write(b"[\n")
        while written < events:
            person = f"person{people:07d}@example.com"
            people += 1
            roll = rng.random()
            count = rng.randint(1, 3) if roll < 0.6 else rng.randint(4, 25) if roll < 0.95 else rng.randint(26, 300)
            t = start + timedelta(seconds=rng.randint(0, 3600))
            for m in range(count):
                t += timedelta(seconds=rng.choice((5, 10, 20, 30)))
                mid = f"b{people:07d}m{m:04d}"
                for event in ("processed", "delivered"):
                    if written >= events:
                        break
                    line = {
                        "email": person,
                        "timestamp": int(t.timestamp()),
                        "event": event,
                        "sg_event_id": f"e{written}",
                        "sg_message_id": f"{mid}.filter0001p1las1-28893-5B3F3A4C-1.0",
                        "smtp-id": f"<{mid}@ismtpd0001p1las1.sendgrid.net>",
                        "category": ["trial-nurture-v2", "onboarding"],
                        "marketing_campaign_id": 4242,
                    }
                    out.write((b",\n" if written else b"") + orjson.dumps(line))
                    written += 1
        out.write(b"\n]\n")
        # Written to disk now, not by the kernel while the first round reads it (one run's round 1 was 10% slower).
        out.flush()
        os.fsync(out.fileno())
    return written, people


def bare_copy(connection, incident_id: int) -> tuple[int, float]:
    """The same rows, exported and loaded by plain COPY into an empty table: the ceiling. Returns (rows,
    seconds of the load); each round runs it right after its import, so both see the same machine."""
    cols = "key, recipient, recipient_raw, occurred_at, event, message_id, workflows, esp_event_id, detail"
    with tempfile.TemporaryFile() as buf, connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            f"COPY (SELECT {cols} FROM incidents_sendevent WHERE incident_id = {incident_id}) TO STDOUT"
        ) as c:
            for block in c:
                buf.write(block)
        buf.seek(0)
        cursor.execute("DROP TABLE IF EXISTS bench_bare")
        cursor.execute(
            "CREATE TABLE bench_bare (key uuid, recipient varchar(254), recipient_raw varchar(320), "
            "occurred_at timestamptz, event varchar(16), message_id varchar(255), workflows text, "
            "esp_event_id varchar(255), detail varchar(255))"
        )
        started = time.perf_counter()
        with raw.copy(f"COPY bench_bare ({cols}) FROM STDIN") as c:
            while block := buf.read(1 << 20):
                c.write(block)
        took = time.perf_counter() - started
        cursor.execute("SELECT COUNT(*) FROM bench_bare")
        rows = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_bare")
    return rows, took


def parse_options(connection, path: Path) -> dict[str, float]:
    """Seconds to turn the same file into rows to load, each way measured: Python (orjson and the SendGrid
    reader, the path of every other format), Polars (the SendGrid path) and PostgreSQL parsing the raw lines
    it was sent with COPY (json_to_record)."""
    from incidents import imports, sendlogs
    from incidents.models import Import
    from incidents.sendlogs.columnar import Batch

    found = {}
    started = time.perf_counter()
    with open(path, "rb") as raw:
        limits = imports.import_limits()
        events = sendlogs.parse(sendlogs.open_log(raw, limits), "sendgrid_json", limits=limits)
        for _block in imports.copy_blocks(imports.staging_rows(Import(), events)):
            pass
    found["python"] = time.perf_counter() - started
    started = time.perf_counter()
    with open(path, "rb") as raw:
        # The import's path on PostgreSQL: Polars in a thread, COPY text with md5 keys.
        for item in sendlogs.parse_columnar(sendlogs.open_log(raw, limits), "sendgrid_json", limits=limits):
            if type(item) is Batch:
                item.copy_text()
    found["polars"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_raw (n bigint GENERATED ALWAYS AS IDENTITY, line text)")
        with cursor.cursor.copy("COPY bench_raw (line) FROM STDIN") as copy, open(path, "rb") as raw:
            while block := raw.read(1 << 20):
                block += raw.readline()
                copy.write(block.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\r", b"\\r"))
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_parsed AS SELECT n, "
            "md5('id' || chr(31) || (r.sg_event_id #>> '{}'))::uuid AS key, "
            "lower(r.email #>> '{}') AS recipient, r.event #>> '{}' AS event, (r.timestamp #>> '{}')::float8 AS ts, "
            "split_part(r.sg_message_id #>> '{}', '.filter', 1) AS message_id, r.sg_event_id #>> '{}' AS esp_event_id, "
            "r.category::text AS workflows "
            "FROM bench_raw, json_to_record(rtrim(line, E' \\t\\r\\n,')::json) AS r(email json, event json, "
            "\"timestamp\" json, sg_event_id json, sg_message_id json, category json) WHERE line NOT IN ('[', ']')"
        )
        cursor.execute("DROP TABLE bench_raw, bench_parsed")
    found["postgresql"] = time.perf_counter() - started
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--options", action="store_true", help="also time parsing in Python vs in PostgreSQL")
    parser.add_argument(
        "--rounds", type=int, default=None, help="imports, each with its bare COPY (default 3; 1 above 2M events)"
    )
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 3 if args.events <= 2_000_000 else 1

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import logging

    from django.core.management import call_command
    from django.db import connection

    from incidents.models import Incident

    # The import's own breakdown (read and load, merge, ledger) is printed with the figures.
    logging.basicConfig(level=logging.WARNING, format="  %(message)s")
    logging.getLogger("incidents.imports").setLevel(logging.INFO)
    if connection.vendor != "postgresql":
        sys.exit("bench/ingest.py measures the PostgreSQL path: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    # A run of another size may be going on beside this one: only an earlier run of this size is removed.
    title = f"bench ingest {args.events}"
    Incident.objects.filter(title=title).delete()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sendgrid.json"
        t = time.perf_counter()
        events, people = generate(path, args.events)
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {events:,} events for {people:,} people ({size_mb:.0f} MB) in {time.perf_counter() - t:.1f} s"
        )

        options: dict[str, float] = {}
        if args.options:
            options = parse_options(connection, path)
            print(
                f"parse options, {events:,} events to rows: Python (orjson) {options['python']:.1f} s, "
                f"Polars {options['polars']:.1f} s, "
                f"PostgreSQL (COPY raw lines + json_to_record) {options['postgresql']:.1f} s"
            )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        found = [import_round(connection, path, title, events) for _ in range(args.rounds)]
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def median(name: str) -> float:
        return statistics.median(r[name] for r in found)

    events_per_s = median("events_per_s")
    copy_per_s = median("copy_rows_per_s")
    ratio = median("ratio")
    for i, r in enumerate(found, 1):
        print(
            f"round {i}: import {events:,} events in {r['import_s']:.2f} s = {r['events_per_s']:,.0f} events/s "
            f"(then the ledger in the same transaction: {r['ledger_in_import_s']:.2f} s); bare COPY "
            f"{r['copy_rows_per_s']:,.0f} rows/s; ratio {r['ratio']:.3f}; ledger recomputed {r['ledger_s']:.2f} s"
        )
    print(
        f"median of {len(found)}: {events_per_s:,.0f} events/s, bare COPY {copy_per_s:,.0f} rows/s, ratio {ratio:.3f} "
        f"(each round's import and COPY back to back), ledger {median('ledger_s'):.2f} s "
        f"({found[0]['people']:,} people, {found[0]['messages']:,} messages)"
    )
    print(f"peak memory: {peak_mb:.0f} MB (before the import: {rss_before:.0f} MB)")
    print(
        json.dumps(
            {
                "bench": "ingest",
                "events": events,
                "file_mb": round(size_mb),
                "rounds": len(found),
                "events_per_s": round(events_per_s),
                "copy_rows_per_s": round(copy_per_s),
                "ratio": round(ratio, 3),
                "ratio_each": [round(r["ratio"], 3) for r in found],
                "events_per_s_each": [round(r["events_per_s"]) for r in found],
                "copy_rows_per_s_each": [round(r["copy_rows_per_s"]) for r in found],
                "import_s": round(median("import_s"), 2),
                "ledger_in_import_s": round(median("ledger_in_import_s"), 2),
                "ledger_s": round(median("ledger_s"), 2),
                "ledger_s_per_million": round(median("ledger_s") * 1e6 / events, 2),
                "peak_mb": round(peak_mb),
                "rss_before_mb": round(rss_before),
                "load_avg": round(os.getloadavg()[0], 1),
                **({f"parse_{k}_s": round(v, 2) for k, v in options.items()}),
            }
        )
    )


def import_round(connection, path: Path, title: str, events: int) -> dict:
    """One import of the file into a fresh incident, its ledger recomputed, then the bare COPY of the same rows
    right after (so both see the same machine); the incident is deleted. Returns the round's figures."""
    from incidents import imports, ledger, services
    from incidents.models import Incident, SendEvent

    incident = services.incident_create(
        title=title,
        started_at=datetime(2026, 11, 20, 13, 0, tzinfo=UTC),
        ended_at=datetime(2026, 11, 20, 20, 0, tzinfo=UTC),
        workflows=["trial-nurture-v2"],
    )
    started = time.perf_counter()
    imp = imports.import_local(incident=incident, path=str(path))
    import_s = time.perf_counter() - started
    assert imp.status == "done", imp.message
    assert imp.imported == events, (imp.imported, events)
    # The import computes the ledger in its own transaction; it is reported on its own.
    incident.refresh_from_db()
    ledger_in_import_s = incident.ledger_stats["seconds"]
    import_only_s = import_s - ledger_in_import_s
    assert SendEvent.objects.filter(incident=incident).count() == events
    started = time.perf_counter()
    stats = ledger.ledger_compute(incident=incident)
    ledger_s = time.perf_counter() - started
    copy_rows, copy_s = bare_copy(connection, incident.id)
    Incident.objects.filter(id=incident.id).delete()
    events_per_s = events / import_only_s
    copy_per_s = copy_rows / copy_s
    return {
        "import_s": import_only_s,
        "events_per_s": events_per_s,
        "ledger_in_import_s": ledger_in_import_s,
        "ledger_s": ledger_s,
        "copy_rows_per_s": copy_per_s,
        "ratio": events_per_s / copy_per_s,
        "people": stats["people"],
        "messages": stats["messages"],
    }


if __name__ == "__main__":
    main()
