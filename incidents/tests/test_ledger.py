"""Tests of incidents.ledger: who was hit, how often, their state and tier."""

from datetime import timedelta

import pytest
from django.db import connection

from incidents import imports, ledger, services
from incidents.models import AffectedPerson, Suppression

from .factories import T0, IncidentFactory, burst, sg, write_ndjson

pytestmark = pytest.mark.django_db


def load(incident, tmp_path, events):
    path = write_ndjson(tmp_path / f"log{len(events)}.json", events)
    imp = imports.import_local(incident=incident, path=str(path))
    assert imp.status == "done", imp.message
    return {p.email: p for p in AffectedPerson.objects.filter(incident=incident)}


def test_it_counts_messages_not_events(tmp_path):
    incident = IncidentFactory()
    events = burst("a@example.com", 3)
    events.append(sg("a@example.com", "open", T0 + timedelta(minutes=5), "a-0", event_id="a-0-o"))
    people = load(incident, tmp_path, events)
    assert people["a@example.com"].messages == 3


def test_it_finds_the_most_received_in_any_ten_minutes(tmp_path):
    incident = IncidentFactory()
    # 25 messages 24 s apart (all within 10 minutes), then 5 more an hour later.
    events = burst("dimdim@example.com", 25, every=24)
    events += burst("dimdim@example.com", 5, start=T0 + timedelta(hours=1), prefix="later")
    people = load(incident, tmp_path, events)
    p = people["dimdim@example.com"]
    assert p.messages == 30
    assert p.max_in_10_min == 25
    assert p.first_at == T0
    assert p.last_at == T0 + timedelta(hours=1, seconds=80)


def test_it_counts_only_the_faulty_workflows_inside_the_window(tmp_path):
    incident = IncidentFactory(workflows=["wf-bad"], started_at=T0, ended_at=T0 + timedelta(hours=1))
    events = burst("a@example.com", 2)
    events += [sg("b@example.com", "processed", T0, "b-1", category="newsletter", event_id="b1")]
    events += [sg("c@example.com", "processed", T0 - timedelta(minutes=1), "c-1", event_id="c1")]
    events += [sg("d@example.com", "processed", T0 + timedelta(hours=2), "d-1", event_id="d1")]
    events += [sg("e@example.com", "processed", T0, "e-1", category=["trial", "wf-bad"], event_id="e1")]
    people = load(incident, tmp_path, events)
    assert set(people) == {"a@example.com", "e@example.com"}


def test_it_leaves_out_messages_the_esp_dropped(tmp_path):
    incident = IncidentFactory()
    events = [sg("a@example.com", "dropped", T0, "a-1", event_id="x")]
    events += burst("b@example.com", 1)
    people = load(incident, tmp_path, events)
    assert set(people) == {"b@example.com"}


def test_it_gives_each_person_their_state_after_the_incident(tmp_path):
    incident = IncidentFactory()
    later = T0 + timedelta(minutes=30)
    events = burst("sub@example.com", 1) + burst("unsub@example.com", 1) + burst("spam@example.com", 1)
    events += burst("bounce@example.com", 1) + burst("back@example.com", 1) + burst("listed@example.com", 1)
    events += [
        sg("unsub@example.com", "unsubscribe", later, "unsub-0", event_id="u1"),
        sg("spam@example.com", "spamreport", later, "spam-0", event_id="s1"),
        sg("bounce@example.com", "bounce", later, "bounce-0", event_id="b1", type="bounce", reason="550"),
        sg("back@example.com", "group_unsubscribe", later, "back-0", event_id="g1"),
        sg("back@example.com", "group_resubscribe", later + timedelta(minutes=1), "back-0", event_id="g2"),
    ]
    Suppression.objects.create(email="listed@example.com", reason=Suppression.Reason.COMPLAINED)
    people = load(incident, tmp_path, events)
    states = {email: p.state for email, p in people.items()}
    assert states == {
        "sub@example.com": "subscribed",
        "unsub@example.com": "unsubscribed",
        "spam@example.com": "complained",
        "bounce@example.com": "bounced",
        "back@example.com": "subscribed",
        "listed@example.com": "complained",
    }
    assert people["bounce@example.com"].bounced is True
    assert people["sub@example.com"].bounced is False


def test_it_puts_people_in_tiers_by_messages_received(tmp_path):
    incident = IncidentFactory()
    events = []
    for count in (1, 2, 9, 10, 49, 50):
        events += burst(f"p{count}@example.com", count, every=5)
    people = load(incident, tmp_path, events)
    assert {e: p.tier for e, p in people.items()} == {
        "p1@example.com": 0,
        "p2@example.com": 1,
        "p9@example.com": 1,
        "p10@example.com": 2,
        "p49@example.com": 2,
        "p50@example.com": 3,
    }
    incident.refresh_from_db()
    assert incident.ledger_stats["by_tier"] == [["1", 1], ["2-9", 2], ["10-49", 2], ["50+", 1]]


def test_it_recomputes_when_the_window_or_tiers_change(tmp_path):
    incident = IncidentFactory()
    load(incident, tmp_path, burst("a@example.com", 3) + burst("b@example.com", 3, start=T0 + timedelta(hours=1)))
    incident.ended_at = T0 + timedelta(minutes=30)
    incident.tier_bounds = [1, 3]
    services.incident_update(incident=incident, changed=["ended_at", "tier_bounds"])
    people = AffectedPerson.objects.filter(incident=incident)
    assert [(p.email, p.tier) for p in people] == [("a@example.com", 1)]


def test_it_records_the_burst_per_minute_for_the_plot(tmp_path):
    incident = IncidentFactory()
    load(incident, tmp_path, burst("a@example.com", 6, every=20))
    incident.refresh_from_db()
    stats = incident.ledger_stats
    assert stats["bucket_seconds"] == 60
    assert [n for _, n in stats["per_bucket"]] == [3, 3]
    assert stats["by_count"] == [["1", 0], ["2", 0], ["3", 0], ["4", 0], ["5", 0], ["6", 1]]


def test_it_counts_ten_minutes_exactly_whether_or_not_a_window_is_needed(tmp_path):
    incident = IncidentFactory()
    events = burst("close@example.com", 2, every=599)  # within ten minutes: no window is computed
    events += burst("apart@example.com", 2, every=600)  # ten minutes apart: the window counts 1
    events += burst("three@example.com", 3, every=450)  # 0, 450, 900 s: at most 2 in any ten minutes
    events += burst("many@example.com", 40, every=30)  # 20 minutes: 20 in the busiest ten
    people = load(incident, tmp_path, events)
    assert {e: (p.messages, p.max_in_10_min) for e, p in people.items()} == {
        "close@example.com": (2, 2),
        "apart@example.com": (2, 1),
        "three@example.com": (3, 2),
        "many@example.com": (40, 20),
    }


def test_it_reads_a_state_outside_the_incidents_workflows_and_end(tmp_path):
    incident = IncidentFactory(workflows=["wf-bad"], started_at=T0, ended_at=T0 + timedelta(hours=1))
    events = burst("a@example.com", 2) + burst("b@example.com", 1) + burst("c@example.com", 1)
    # A day later, from another list's footer: still their state now. Before the incident: not.
    events += [sg("a@example.com", "unsubscribe", T0 + timedelta(days=1), "news-1", category="news", event_id="u")]
    events += [sg("b@example.com", "spamreport", T0 - timedelta(hours=1), "old-1", event_id="s")]
    # A message the ESP dropped counts for nothing, but the person's other message still counts.
    events += [sg("c@example.com", "dropped", T0 + timedelta(minutes=2), "c-9", event_id="c9")]
    people = load(incident, tmp_path, events)
    assert {e: (p.messages, p.state) for e, p in people.items()} == {
        "a@example.com": (2, "unsubscribed"),
        "b@example.com": (1, "subscribed"),
        "c@example.com": (1, "subscribed"),
    }
    incident.refresh_from_db()
    assert incident.ledger_stats["messages"] == 4
    assert sum(n for _, n in incident.ledger_stats["per_bucket"]) == 4


def test_it_rewrites_only_the_people_a_recompute_changed(tmp_path):
    incident = IncidentFactory(started_at=T0, ended_at=T0 + timedelta(hours=2))
    first = burst("same@example.com", 2) + burst("more@example.com", 1) + burst("fixed@example.com", 1)
    load(incident, tmp_path, first)
    before = {p.email: p for p in AffectedPerson.objects.filter(incident=incident)}
    # A second log: one more message for more@ and a new person; fixed@'s row was changed by hand meanwhile.
    load(incident, tmp_path, burst("more@example.com", 1, prefix="more2") + burst("new@example.com", 3))
    incident.ended_at = T0 + timedelta(minutes=30)
    AffectedPerson.objects.filter(email="fixed@example.com").update(last_at=T0 + timedelta(days=9))
    Suppression.objects.create(email="same@example.com", reason=Suppression.Reason.COMPLAINED)
    services.incident_update(incident=incident, changed=["ended_at"])
    after = {p.email: p for p in AffectedPerson.objects.filter(incident=incident)}
    assert {e: (p.messages, p.state) for e, p in after.items()} == {
        "same@example.com": (2, "complained"),
        "more@example.com": (2, "subscribed"),
        "fixed@example.com": (1, "subscribed"),
        "new@example.com": (3, "subscribed"),
    }
    # Rows keep their ids: updated in place, not deleted and inserted again; what was wrong is set right.
    assert {e: after[e].id for e in before} == {e: p.id for e, p in before.items()}
    assert after["fixed@example.com"].last_at == T0


def test_it_deletes_the_people_a_recompute_no_longer_finds(tmp_path):
    incident = IncidentFactory(started_at=T0, ended_at=T0 + timedelta(hours=2))
    later = T0 + timedelta(hours=1)
    load(incident, tmp_path, burst("early@example.com", 1) + burst("late@example.com", 1, start=later))
    other = IncidentFactory(started_at=T0, ended_at=T0 + timedelta(hours=2))
    load(other, tmp_path, burst("late@example.com", 2, start=later))
    incident.ended_at = T0 + timedelta(minutes=30)
    services.incident_update(incident=incident, changed=["ended_at"])
    assert list(AffectedPerson.objects.filter(incident=incident).values_list("email", flat=True)) == [
        "early@example.com"
    ]
    # Another incident's ledger is its own.
    assert list(AffectedPerson.objects.filter(incident=other).values_list("email", "messages")) == [
        ("late@example.com", 2)
    ]


@pytest.mark.usefixtures("needs_postgres")
def test_it_leaves_the_rows_of_an_unchanged_recompute_unwritten(tmp_path):
    incident = IncidentFactory()
    load(incident, tmp_path, burst("a@example.com", 3) + burst("b@example.com", 1))
    versions = "SELECT email, xmin::text FROM incidents_affectedperson WHERE incident_id = %s ORDER BY email"
    with connection.cursor() as cursor:
        cursor.execute(versions, [incident.id])
        before = cursor.fetchall()
        ledger.ledger_compute(incident=incident)
        cursor.execute(versions, [incident.id])
        # xmin is the transaction that wrote a row version: the same, so no new version was written.
        assert cursor.fetchall() == before
