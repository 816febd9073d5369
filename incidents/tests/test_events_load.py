"""PostgreSQL's load path: a load table per import, attached as the incident's partition or merged into it."""

import pytest
from django.db import connection

from incidents import imports
from incidents.events_load import load_table, partition_table
from incidents.models import Import, Incident, SendEvent

from .factories import T0, IncidentFactory, burst, sg, write_ndjson

# Partitions are PostgreSQL's: skipped in the SQLite run.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("needs_postgres")]


def tables(prefix: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s", [prefix + "%"])
        return {row[0] for row in cursor.fetchall()}


def partition_of(incident: Incident) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM incidents_sendevent WHERE incident_id = %s", [incident.id]
        )
        return ",".join(row[0] for row in cursor.fetchall())


def test_it_attaches_a_first_import_as_the_incidents_partition_with_each_event_once(tmp_path):
    incident = IncidentFactory()
    events = burst("a@example.com", 3) + burst("b@example.com", 2)
    # The same events twice in one file (an export concatenated with itself): each is kept once.
    path = write_ndjson(tmp_path / "log.json", events + events)

    imp = imports.import_local(incident=incident, path=str(path))

    assert (imp.status, imp.imported, imp.duplicates) == (Import.Status.DONE, 10, 10)
    assert partition_of(incident) == partition_table(incident.id)
    assert SendEvent.objects.filter(incident=incident).count() == 10
    assert not tables("incidents_sendevent_load")
    incident.refresh_from_db()
    assert incident.ledger_stats["messages"] == 5


def test_it_attaches_the_load_tables_own_indexes_as_the_partitions(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 3))

    imports.import_local(incident=incident, path=str(path))

    # ATTACH takes an index only when it matches the parent's exactly (columns and their order); any other
    # would be built a second time, on the whole partition, inside the merge.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass ORDER BY 1",
            [partition_table(incident.id)],
        )
        definitions = [row[0].split(" USING ")[1] for row in cursor.fetchall()]
    assert definitions == ["btree (id)", "btree (key, incident_id)"]


def test_it_gives_the_partition_statistics_from_a_small_sample_and_leaves_the_target_as_it_was(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 3) + burst("b@example.com", 2))
    with connection.cursor() as cursor:
        cursor.execute("SHOW default_statistics_target")
        before = cursor.fetchone()[0]

    imports.import_local(incident=incident, path=str(path))

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [partition_table(incident.id)])
        assert cursor.fetchone()[0] == 10
        cursor.execute(
            "SELECT n_distinct FROM pg_stats WHERE tablename = %s AND attname = 'recipient'",
            [partition_table(incident.id)],
        )
        assert cursor.fetchone()[0] == -0.2  # two addresses in ten rows
        # The smaller sample was for that ANALYZE alone: the ledger's own ANALYZE, and the session, keep theirs.
        cursor.execute("SHOW default_statistics_target")
        assert cursor.fetchone()[0] == before


def test_it_stores_fields_with_tabs_line_breaks_and_backslashes_as_they_were_written(tmp_path):
    incident = IncidentFactory()
    odd = [
        sg("a@example.com", "delivered", T0, "tab\there", event_id="back\\slash", category=["line\nbreak", "x\ry"]),
        sg("b@example.com", "delivered", T0, "plain", event_id="two\tfields", category="one\\two"),
    ]
    # Plain records around them, read by Polars and loaded by COPY in its text format.
    path = write_ndjson(tmp_path / "log.json", burst("c@example.com", 20) + odd + burst("d@example.com", 20))

    imp = imports.import_local(incident=incident, path=str(path))

    assert (imp.status, imp.imported, imp.rejected) == (Import.Status.DONE, 82, 0)
    stored = set(SendEvent.objects.filter(incident=incident).values_list("message_id", "esp_event_id", "workflows"))
    assert ("tab\there", "back\\slash", "|line\nbreak|x\ry|") in stored
    assert ("plain", "two\tfields", "|one\\two|") in stored
    assert ("c-19", "c-19-d", "|wf-bad|") in stored


def test_it_numbers_an_imports_events_in_file_order_from_a_cached_sequence(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 4))

    imports.import_local(incident=incident, path=str(path))

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seqcache FROM pg_sequence "
            "WHERE seqrelid = pg_get_serial_sequence('incidents_sendevent', 'id')::regclass"
        )
        assert cursor.fetchone()[0] == 1000  # migration 0012: the COPY takes ids without locking per row
    ids = list(SendEvent.objects.filter(incident=incident).order_by("id").values_list("esp_event_id", flat=True))
    assert ids == [f"a-{i}-{kind}" for i in range(4) for kind in "pd"]


def test_it_merges_a_later_import_into_the_partition_adding_only_new_events(tmp_path):
    incident = IncidentFactory()
    first = write_ndjson(tmp_path / "first.json", burst("a@example.com", 3))
    second = write_ndjson(tmp_path / "second.json", burst("a@example.com", 5))
    imports.import_local(incident=incident, path=str(first))

    later = imports.import_local(incident=incident, path=str(second))

    assert (later.imported, later.duplicates) == (4, 6)
    assert SendEvent.objects.filter(incident=incident).count() == 10
    assert partition_of(incident) == partition_table(incident.id)
    assert not tables("incidents_sendevent_load")


def test_it_imports_again_into_a_partition_whose_events_were_all_deleted(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 2))
    imports.import_local(incident=incident, path=str(path))
    SendEvent.objects.filter(incident=incident).delete()  # as retention or an erasure may

    again = imports.import_local(incident=incident, path=str(path))

    assert (again.status, again.imported) == (Import.Status.DONE, 4)
    assert partition_of(incident) == partition_table(incident.id)


def test_it_keeps_events_made_without_an_import_and_merges_into_them(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 2))
    imports.import_local(incident=incident, path=str(path))
    other = IncidentFactory()
    # Rows made through the ORM (the watch, tests) go to the default partition; an import then merges.
    SendEvent.objects.bulk_create(
        [SendEvent(**{**event, "id": None, "incident_id": other.id}) for event in SendEvent.objects.values()]
    )

    imp = imports.import_local(incident=other, path=str(path))

    assert (imp.imported, imp.duplicates) == (0, 4)
    assert partition_of(other) == "incidents_sendevent_default"


def test_it_drops_what_a_dead_worker_loaded_once_the_import_is_given_up(tmp_path):
    incident = IncidentFactory()
    imp = Import.objects.create(incident=incident, kind=Import.Kind.SENDLOG, status=Import.Status.FAILED)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {load_table(imp.id)} (id bigint)")

    imports.import_requeue_stale()

    assert load_table(imp.id) not in tables("incidents_sendevent_load")


def test_it_drops_the_partition_with_its_incident(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "log.json", burst("a@example.com", 2))
    imports.import_local(incident=incident, path=str(path))
    name = partition_table(incident.id)
    assert name in tables("incidents_sendevent_")

    incident.delete()

    assert name not in tables("incidents_sendevent_")
    assert not SendEvent.objects.exists()
