"""Tests of the incidents management commands."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from incidents.models import Incident

from .factories import IncidentFactory, burst, write_ndjson

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_creates_an_incident_and_prints_its_id():
    out = run(
        "create_incident",
        "--title",
        "Loop",
        "--start",
        "2026-11-20T14:00:00Z",
        "--end",
        "2026-11-20T16:00:00+00:00",
        "--workflow",
        "wf-1",
        "--workflow",
        "wf-2",
    )
    incident = Incident.objects.get(id=int(out.strip()))
    assert incident.workflows == ["wf-1", "wf-2"]
    assert incident.started_at.isoformat() == "2026-11-20T14:00:00+00:00"


def test_it_refuses_a_bad_time():
    with pytest.raises(CommandError, match="not an ISO 8601 time"):
        run("create_incident", "--title", "Loop", "--start", "yesterday")


def test_it_refuses_a_window_that_ends_before_it_starts():
    # The model's rule: the browser form, the API and this command all refuse it.
    with pytest.raises(CommandError, match="ended_at: The window ends before it starts."):
        run("create_incident", "--title", "Loop", "--start", "2026-11-29T10:00", "--end", "2026-11-28T10:00")
    assert not Incident.objects.exists()


def test_it_reads_a_time_without_an_offset_as_utc():
    # It raised AttributeError (django.utils.timezone.utc is gone since Django 5.0) for any such time.
    out = run("create_incident", "--title", "Loop", "--start", "2026-11-29T10:00")
    assert Incident.objects.get(id=int(out.strip())).started_at.isoformat() == "2026-11-29T10:00:00+00:00"


def test_it_imports_a_log_and_prints_a_summary(tmp_path):
    incident = IncidentFactory()
    path = write_ndjson(tmp_path / "l.json", burst("a@example.com", 2) + burst("a@example.com", 2))
    out = run("import_sendlog", str(incident.id), str(path))
    assert "read 8, imported 4, duplicates 4, rejected 0" in out
    assert "ledger: 1 people, 2 messages" in out


def test_it_exits_non_zero_only_when_nothing_could_be_read(tmp_path):
    incident = IncidentFactory()
    bad = tmp_path / "bad.json"
    bad.write_text("not a log at all\n")
    with pytest.raises(CommandError):
        run("import_sendlog", str(incident.id), str(bad))
    partial = write_ndjson(tmp_path / "p.json", burst("a@example.com", 1))
    partial.write_bytes(partial.read_bytes() + b"{oops\n")
    out = run("import_sendlog", str(incident.id), str(partial))
    assert "rejected 1" in out


def test_it_imports_a_mapped_csv(tmp_path):
    incident = IncidentFactory(workflows=[])
    path = tmp_path / "x.csv"
    path.write_text("to|at\nann@example.com|1763647500\n")
    out = run(
        "import_sendlog",
        str(incident.id),
        str(path),
        "--format",
        "csv",
        "--map",
        "recipient=to",
        "--map",
        "time=at",
        "--delimiter",
        "|",
    )
    assert "imported 1" in out


def test_it_exports_the_affected_people(tmp_path):
    incident = IncidentFactory()
    run("import_sendlog", str(incident.id), str(write_ndjson(tmp_path / "l.json", burst("a@example.com", 3))))
    csv_out = run("export_affected", str(incident.id), "--format", "csv")
    assert csv_out.splitlines()[0] == "email,messages,first_at,last_at,max_in_10_min,state,tier,language"
    assert csv_out.splitlines()[1].startswith("a@example.com,3,")
    rows = json.loads(run("export_affected", str(incident.id), "--format", "json"))
    assert rows[0]["email"] == "a@example.com"
    assert set(rows[0]) == {"email", "messages", "first_at", "last_at", "max_in_10_min", "state", "tier", "language"}
