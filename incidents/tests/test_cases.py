"""The real-world cases of issue 10 that are imports: each gives its right value (files in tests/cases/)."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incidents import imports
from incidents.models import AffectedPerson, Import, SendEvent, Suppression

from .factories import IncidentFactory

CASES = Path(__file__).parent / "cases"
pytestmark = pytest.mark.django_db


def incident(**fields):
    defaults = {"started_at": datetime(2026, 11, 19, tzinfo=UTC), "ended_at": None, "workflows": []}
    return IncidentFactory(**{**defaults, **fields})


def run(case: str, tmp_path, **options) -> Import:
    path = tmp_path / case
    shutil.copy(CASES / case, path)
    found = options.pop("incident", None) or incident()
    imp = imports.import_local(incident=found, path=str(path), **options)
    assert imp.status == Import.Status.DONE, imp.message
    return imp


def states(imp: Import) -> dict[str, str]:
    return dict(AffectedPerson.objects.filter(incident=imp.incident).values_list("email", "state"))


def test_it_reads_case_02_so_a_postmark_soft_bounce_is_deferred_and_suppresses_nobody(tmp_path):
    imp = run("02-postmark-softbounce-webhook.json", tmp_path)

    assert list(SendEvent.objects.values_list("event", flat=True)) == ["deferred"]
    assert not AffectedPerson.objects.filter(incident=imp.incident, bounced=True).exists()
    assert not Suppression.objects.exists()


def test_it_reads_case_04_so_a_sendgrid_block_leaves_the_person_not_bounced(tmp_path):
    imp = run("04-sendgrid-blocked.json", tmp_path)

    person = AffectedPerson.objects.get(incident=imp.incident)
    assert (person.email, person.messages, person.state, person.bounced) == (
        "akira.sato@example.jp",
        1,
        AffectedPerson.State.SUBSCRIBED,
        False,
    )
    assert set(SendEvent.objects.values_list("event", flat=True)) == {"queued", "deferred"}
    assert not Suppression.objects.exists()


def test_it_reads_case_05_so_mailgun_suppressed_sends_are_no_message_and_give_the_state(tmp_path):
    imp = run("05-mailgun-suppressed.json", tmp_path)

    # Never delivered: not a message received, so nobody is in the ledger for it.
    assert states(imp) == {}
    events = sorted(SendEvent.objects.values_list("recipient", "event"))
    assert events == [
        ("lena.fischer@example.de", "queued"),
        ("lena.fischer@example.de", "rejected"),
        ("lena.fischer@example.de", "unsubscribed"),
        ("omar.khalil@example.com", "complained"),
        ("omar.khalil@example.com", "queued"),
        ("omar.khalil@example.com", "rejected"),
    ]


def test_it_reads_case_05_so_states_are_unsubscribed_and_complained_not_bounced(tmp_path):
    found = incident()
    # Each also received one real message in the incident.
    delivered = tmp_path / "delivered.ndjson"
    delivered.write_text(
        '{"event": "delivered", "timestamp": 1795179800, "recipient": "lena.fischer@example.de", "id": "d1", '
        '"message": {"headers": {"message-id": "m1@mg"}}}\n'
        '{"event": "delivered", "timestamp": 1795179800, "recipient": "omar.khalil@example.com", "id": "d2", '
        '"message": {"headers": {"message-id": "m2@mg"}}}\n'
    )
    imports.import_local(incident=found, path=str(delivered))
    imp = run("05-mailgun-suppressed.json", tmp_path, incident=found)

    assert states(imp) == {"lena.fischer@example.de": "unsubscribed", "omar.khalil@example.com": "complained"}
    assert not AffectedPerson.objects.filter(incident=found, bounced=True).exists()
    assert AffectedPerson.objects.get(email="lena.fischer@example.de").messages == 1


def test_it_reads_case_06_so_brevo_events_are_read_as_brevo(tmp_path):
    imp = run("06-brevo-webhooks.ndjson", tmp_path)

    assert imp.format == "brevo"
    assert (imp.imported, imp.rejected) == (4, 0)
    assert sorted(SendEvent.objects.values_list("recipient", "event")) == [
        ("jan.novak@no-mx.example.cz", "deferred"),
        ("maria.lopez@example.es", "complained"),
        ("maria.lopez@example.es", "delivered"),
        ("maria.lopez@example.es", "sent"),
    ]
    assert states(imp)["maria.lopez@example.es"] == "complained"
    assert not AffectedPerson.objects.filter(incident=imp.incident, bounced=True).exists()


def test_it_reads_case_09b_so_every_row_of_a_status_export_is_a_message(tmp_path):
    mapping = {"recipient": "Email", "time": "Time", "event": "Status", "workflow": "Campaign"}
    imp = run("09b-status-per-message.csv", tmp_path, fmt="csv", mapping=mapping)

    assert states(imp) == {
        "a.one@example.com": "subscribed",
        "b.two@example.com": "subscribed",
        "c.three@example.com": "complained",
        "d.four@example.com": "subscribed",
    }


def test_it_reads_case_10_so_an_excel_cp1252_csv_with_semicolons_reads_its_accents(tmp_path):
    mapping = {"recipient": "Adresse e-mail", "time": "Date d'envoi", "workflow": "Campagne", "event": "Statut"}
    imp = run(
        "10-excel-cp1252-semicolon.csv",
        tmp_path,
        fmt="csv",
        mapping=mapping,
        date_format="%d/%m/%Y %H:%M",
        incident=incident(workflows=["Relance été"]),
    )

    assert (imp.imported, imp.rejected) == (2, 0)
    assert set(states(imp)) == {"lea.girard@example.fr", "hugo.lefevre@example.fr"}
    assert set(SendEvent.objects.values_list("workflows", flat=True)) == {"|Relance été|"}


def test_it_reads_case_10_so_naive_times_are_read_in_the_chosen_time_zone(tmp_path):
    mapping = {"recipient": "Adresse e-mail", "time": "Date d'envoi", "workflow": "Campagne"}
    run(
        "10-excel-cp1252-semicolon.csv",
        tmp_path,
        fmt="csv",
        mapping=mapping,
        date_format="%d/%m/%Y %H:%M",
        time_zone="Europe/Paris",
    )

    first = SendEvent.objects.get(recipient="lea.girard@example.fr")
    assert first.occurred_at == datetime(2026, 11, 20, 12, 5, tzinfo=UTC)
