"""Tests of incidents.imports: send-log imports end to end, dedupe, crash safety and CSV mappings."""

import gzip
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import imports
from incidents.models import Import, SendEvent

from .factories import T0, IncidentFactory, burst, sg, write_ndjson

pytestmark = pytest.mark.django_db


def test_it_imports_a_sendgrid_log_and_builds_the_ledger(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 3) + burst("b@example.com", 1))
    imp = imports.import_local(incident=incident, path=str(path))
    assert imp.status == Import.Status.DONE
    assert imp.format == "sendgrid_json"
    assert (imp.rows_read, imp.imported, imp.duplicates, imp.rejected) == (8, 8, 0, 0)
    assert incident.affected.count() == 2
    incident.refresh_from_db()
    assert incident.ledger_stats["people"] == 2
    assert incident.ledger_stats["messages"] == 4


def test_it_adds_nothing_when_the_same_file_is_imported_again(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 5))
    imports.import_local(incident=incident, path=str(path))
    again = imports.import_local(incident=incident, path=str(path))
    assert (again.imported, again.duplicates) == (0, 10)
    assert SendEvent.objects.filter(incident=incident).count() == 10


def test_it_deduplicates_overlapping_exports_without_event_ids(tmp_path):
    incident = IncidentFactory()
    events = [sg("a@example.com", "delivered", T0 + timedelta(minutes=i), f"m{i}") for i in range(6)]
    first = write_ndjson(tmp_path / "first.json", events[:4])
    second = write_ndjson(tmp_path / "second.json", events[2:])
    imports.import_local(incident=incident, path=str(first))
    overlap = imports.import_local(incident=incident, path=str(second))
    assert (overlap.imported, overlap.duplicates) == (2, 2)


def test_it_skips_and_names_bad_records_and_keeps_the_good_ones(tmp_path):
    incident = IncidentFactory()
    path = tmp_path / "log.json"
    good = burst("a@example.com", 2)
    lines = [
        b'{"email": "a@example.com", "event": "processed", "timestamp": 1763647200, "sg_message_id": "x.1"}',
        b'{"event": "processed", "timestamp": 1763647200, "sg_message_id": "y.1"}',
        b"{broken",
    ]
    write_ndjson(path, good)
    path.write_bytes(path.read_bytes() + b"\n".join(lines[1:]) + b"\n")
    imp = imports.import_local(incident=incident, path=str(path))
    assert imp.status == Import.Status.DONE
    assert imp.imported == 4
    assert imp.rejected == 2
    refs = [e["ref"] for e in imp.errors]
    assert refs == [5, 6]
    assert all(e["reason"] for e in imp.errors)


def test_it_fails_a_file_of_another_kind_with_one_message_and_imports_nothing(tmp_path):
    incident = IncidentFactory()
    path = tmp_path / "notes.txt"
    path.write_text("Dear diary, today the workflow sent 25 emails.\n" * 3)
    imp = imports.import_local(incident=incident, path=str(path))
    assert imp.status == Import.Status.FAILED
    assert imp.message
    assert SendEvent.objects.count() == 0


def test_it_fails_when_every_record_is_bad_and_imports_nothing(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", [{"event": "processed", "timestamp": 1, "sg_event_id": "e"}] * 3)
    imp = imports.import_local(incident=incident, path=str(path), fmt="sendgrid_json")
    assert imp.status == Import.Status.FAILED
    assert "record" in imp.message
    assert SendEvent.objects.count() == 0


def test_it_reads_gzip_compressed_logs(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json.gz", burst("a@example.com", 2), gz=True)
    imp = imports.import_local(incident=incident, path=str(path))
    assert imp.imported == 4


def test_it_keeps_the_original_address_and_normalises_it(tmp_path):
    incident = IncidentFactory()
    events = burst("a@example.com", 1)
    events[0]["email"] = "  A@Example.COM "
    path = write_ndjson(tmp_path / "log.json", events)
    imports.import_local(incident=incident, path=str(path))
    ev = SendEvent.objects.get(event="queued")
    assert ev.recipient == "a@example.com"
    assert ev.recipient_raw.strip() == "A@Example.COM"
    assert incident.affected.get().email == "a@example.com"


def test_it_rejects_a_record_with_a_nul_character_naming_the_field_and_keeps_the_others(tmp_path):
    incident = IncidentFactory()
    nul = [
        sg("n1@example.com", "delivered", T0, "m\x00id", event_id="n1"),
        sg("n2@example.com", "delivered", T0, "m2", event_id="ev\x00id"),
        sg("n3@example.com", "delivered", T0, "m3", event_id="n3", category=["ok", "c\x00t"]),
    ]
    # Among plain records: on PostgreSQL those are read by Polars, the NUL ones handed to Python.
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 10) + nul + burst("b@example.com", 10))

    imp = imports.import_local(incident=incident, path=str(path))

    assert imp.status == Import.Status.DONE, imp.message
    assert (imp.imported, imp.rejected) == (40, 3)
    assert [(e["ref"], e["reason"].split(":")[0]) for e in imp.errors] == [
        (21, "a NUL character (\\u0000) in the message id"),
        (22, "a NUL character (\\u0000) in the event id"),
        (23, "a NUL character (\\u0000) in the categories or tags"),
    ]
    assert not SendEvent.objects.filter(incident=incident, recipient__startswith="n").exists()


def test_it_imports_a_generic_csv_with_a_mapping(tmp_path):
    incident = IncidentFactory(workflows=["promo-7"])
    path = tmp_path / "export.csv"
    path.write_text(
        "Address;When;Msg;Flow;What\n"
        "Jo@Example.com;20/11/2026 14:05;m1;promo-7;send\n"
        "jo@example.com;20/11/2026 14:06;m2;promo-7;send\n"
        "jo@example.com;yesterday;m3;promo-7;send\n"
    )
    imp = imports.import_local(
        incident=incident,
        path=str(path),
        fmt="csv",
        mapping={"recipient": "Address", "time": "When", "message_id": "Msg", "workflow": "Flow", "event": "What"},
        delimiter=";",
        date_format="%d/%m/%Y %H:%M",
    )
    assert imp.status == Import.Status.DONE, imp.message
    assert (imp.imported, imp.rejected) == (2, 1)
    assert imp.errors[0]["ref"] == 4
    person = incident.affected.get()
    assert person.messages == 2


def test_it_imports_the_bounce_an_unclosed_quote_ran_over_and_names_the_line(tmp_path):
    incident = IncidentFactory()
    path = tmp_path / "activity.csv"
    rows = [f"2026-11-20T13:{i:02d}:00Z,m{i}.filter1,delivered,r{i}@example.com," for i in range(2, 12)]
    path.write_text(
        "processed,message_id,event,email,reason\n"
        + "\n".join(rows)
        + '\n2026-11-20T13:59:00Z,m12.filter1,"unterminated,delivered,r12@example.com,\n'
        + "2026-11-20T14:00:00Z,m13.filter1,bounced,gone@example.com,550 5.1.1 no such user\n"
    )

    imp = imports.import_local(incident=incident, path=str(path), fmt="sendgrid_csv")

    assert imp.status == Import.Status.DONE, imp.message
    assert (imp.rows_read, imp.imported, imp.rejected) == (12, 11, 1)
    assert imp.errors == [
        {
            "ref": 12,
            "reason": "a quoted field opens on line 12 and is not closed on it (an unclosed quote?): "
            "this row is not imported; line 13, which the field ran over, was read again on its own",
        }
    ]
    bounce = SendEvent.objects.get(incident=incident, recipient="gone@example.com")
    assert (bounce.event, bounce.detail) == ("bounced", "hard: 550 5.1.1 no such user")


def test_it_asks_for_a_mapping_for_a_csv_it_does_not_know(tmp_path):
    incident = IncidentFactory()
    path = tmp_path / "export.csv"
    path.write_text("Address,When\njo@example.com,2026-11-20T14:05:00Z\n")
    imp = imports.import_local(incident=incident, path=str(path))
    assert imp.status == Import.Status.FAILED
    assert "mapping" in imp.message


def test_it_runs_a_claimed_import_only_once(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 1))
    imp = imports.import_local(incident=incident, path=str(path))
    assert imports.import_run(import_id=imp.id, path=str(path)) is None
    assert SendEvent.objects.count() == 2


def test_it_requeues_imports_left_running_by_a_dead_worker(tmp_path, django_capture_on_commit_callbacks):
    incident = IncidentFactory()
    imp = Import.objects.create(
        kind=Import.Kind.SENDLOG,
        incident=incident,
        original_name="x.json",
        status=Import.Status.RUNNING,
        started_at=T0,
        heartbeat_at=T0,
    )
    alive = Import.objects.create(
        kind=Import.Kind.SENDLOG,
        incident=incident,
        original_name="y.json",
        status=Import.Status.RUNNING,
        started_at=T0,
        heartbeat_at=timezone.now(),
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert imports.import_requeue_stale(older_than_seconds=60) == 1
    imp.refresh_from_db()
    alive.refresh_from_db()
    assert imp.status == Import.Status.QUEUED
    assert alive.status == Import.Status.RUNNING
    assert len(callbacks) == 1


def test_it_fails_an_import_of_a_gzip_bomb_with_the_limit_it_hit(tmp_path, settings):
    settings.IMPORT_MAX_COMPRESSION_RATIO = 50
    path = tmp_path / "bomb.json.gz"
    first = b'{"event": "open", "email": "a@example.com", "timestamp": 1795179900, "sg_event_id": "x"}\n'
    path.write_bytes(gzip.compress(first + b"\n" * (16 * 1024 * 1024), compresslevel=9))

    imp = imports.import_local(incident=IncidentFactory(), path=str(path))

    assert imp.status == Import.Status.FAILED
    assert "IMPORT_MAX_COMPRESSION_RATIO" in imp.message
    assert not SendEvent.objects.exists()


def test_it_fails_an_import_of_json_nested_30000_deep(tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 30000 + b"]" * 30000)

    imp = imports.import_local(incident=IncidentFactory(), path=str(path))

    assert imp.status == Import.Status.FAILED
    assert "IMPORT_MAX_JSON_DEPTH" in imp.message


def test_it_fails_an_import_whose_line_does_not_fit_its_encoding_naming_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"Who,At\n" + b"a@example.com,2026-11-20T14:05:00Z\n" * 3 + b"b@example.com,\xe9\n")

    imp = imports.import_local(
        incident=IncidentFactory(),
        path=str(path),
        fmt="csv",
        mapping={"recipient": "Who", "time": "At"},
        encoding="utf-8",
    )

    assert imp.status == Import.Status.FAILED
    assert imp.message.startswith("Line 5 cannot be read as UTF-8")
    assert not SendEvent.objects.exists()
