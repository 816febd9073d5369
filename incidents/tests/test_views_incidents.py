"""Tests of the incident pages: list, create, edit, detail, ledger and exports."""

from datetime import timedelta

import pytest
from django.urls import reverse

from incidents import imports
from incidents.models import AffectedPerson, Contact, Incident

from .factories import T0, IncidentFactory, burst, write_ndjson

pytestmark = pytest.mark.django_db


def test_it_requires_login_on_every_staff_page(client):
    incident = IncidentFactory()
    for url in [
        reverse("incidents:list"),
        reverse("incidents:create"),
        reverse("incidents:detail", args=[incident.id]),
        reverse("incidents:people", args=[incident.id]),
        reverse("incidents:export", args=[incident.id, "csv"]),
        reverse("incidents:contacts"),
        reverse("incidents:suppressions"),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))


def test_it_forbids_every_write_to_a_viewer(viewer_client):
    incident = IncidentFactory()
    assert viewer_client.get(reverse("incidents:detail", args=[incident.id])).status_code == 200
    for url in [
        reverse("incidents:create"),
        reverse("incidents:edit", args=[incident.id]),
        reverse("incidents:upload", args=[incident.id]),
        reverse("incidents:contact_upload"),
        reverse("incidents:suppression_add"),
        reverse("incidents:suppression_upload"),
    ]:
        assert viewer_client.post(url, {}).status_code == 403, url
    assert viewer_client.get(reverse("incidents:create")).status_code == 403


def test_it_lists_incidents_newest_first_with_counts(marketer_client, tmp_path):
    old = IncidentFactory(title="Old one", started_at=T0 - timedelta(days=30), ended_at=None)
    new = IncidentFactory(title="New one")
    imports.import_local(incident=new, path=str(write_ndjson(tmp_path / "l.json", burst("a@example.com", 2))))
    html = marketer_client.get(reverse("incidents:list")).content.decode()
    assert html.index("New one") < html.index("Old one")
    assert "ongoing" in html
    assert old.title in html


def test_it_creates_an_incident(marketer_client, marketer):
    response = marketer_client.post(
        reverse("incidents:create"),
        {
            "title": "Welcome loop",
            "what_happened": "The welcome email went out 25 times.",
            "started_at": "2026-11-20T14:00",
            "ended_at": "",
            "workflows_text": "wf-welcome\ncampaign-42",
            "root_cause": "No re-entry limit",
            "fix": "We're changing how we manage workflow updates",
            "status": "open",
            "owner": marketer.id,
            "tier_text": "1, 2, 10, 50",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert incident.workflows == ["wf-welcome", "campaign-42"]
    assert incident.ended_at is None
    assert incident.owner == marketer


def test_it_refuses_a_window_that_ends_before_it_starts(marketer_client):
    response = marketer_client.post(
        reverse("incidents:create"),
        {
            "title": "x",
            "started_at": "2026-11-20T14:00",
            "ended_at": "2026-11-20T13:00",
            "status": "open",
            "tier_text": "1",
        },
    )
    assert response.status_code == 200
    assert "ends before it starts" in response.content.decode()
    assert not Incident.objects.exists()


def test_it_edits_an_incident_and_recomputes_the_ledger(marketer_client, tmp_path):
    incident = IncidentFactory()
    imports.import_local(incident=incident, path=str(write_ndjson(tmp_path / "l.json", burst("a@example.com", 12))))
    assert incident.affected.get().tier == 2
    response = marketer_client.post(
        reverse("incidents:edit", args=[incident.id]),
        {
            "title": incident.title,
            "started_at": "2026-11-20T14:00",
            "ended_at": "2026-11-20T16:00",
            "workflows_text": "wf-bad",
            "status": "contained",
            "tier_text": "1, 20",
        },
    )
    assert response.status_code == 302
    assert incident.affected.get().tier == 0


def test_it_shows_the_ledger_summary_and_plot_data(marketer_client, tmp_path):
    incident = IncidentFactory()
    imports.import_local(incident=incident, path=str(write_ndjson(tmp_path / "l.json", burst("a@example.com", 3))))
    html = marketer_client.get(reverse("incidents:detail", args=[incident.id])).content.decode()
    assert 'id="chart-burst"' in html
    assert 'id="chart-data"' in html
    assert "vendor/chart.umd.min.js" in html
    assert "cdn" not in html.lower()


def test_it_filters_sorts_and_pages_the_people(marketer_client, tmp_path):
    incident = IncidentFactory()
    events = []
    for i in range(60):
        events += burst(f"p{i:02d}@example.com", 1 + i % 3)
    imports.import_local(incident=incident, path=str(write_ndjson(tmp_path / "l.json", events)))
    url = reverse("incidents:people", args=[incident.id])
    page = marketer_client.get(url)
    assert page.context["page"].paginator.count == 60
    assert len(page.context["page"].object_list) == 50
    top = page.context["page"].object_list[0]
    assert top.messages == 3
    only = marketer_client.get(url, {"q": "p07", "sort": "email"}).context["page"].object_list
    assert [p.email for p in only] == ["p07@example.com"]
    tier = marketer_client.get(url, {"tier": "0"}).context["page"].paginator.count
    assert tier == 20


def test_it_shows_each_persons_language_on_the_people_page(marketer_client, tmp_path):
    incident = IncidentFactory()
    events = burst("ana@example.com", 2) + burst("luc@example.com", 2) + burst("nobody@example.com", 2)
    imports.import_local(incident=incident, path=str(write_ndjson(tmp_path / "l.json", events)))
    Contact.objects.create(email="ana@example.com", language="es", country="US")
    Contact.objects.create(email="luc@example.com", country="FR")
    page = marketer_client.get(reverse("incidents:people", args=[incident.id]), {"sort": "email"})
    shown = {p.email: (p.language, p.language_source) for p in page.context["page"].object_list}
    assert shown == {
        "ana@example.com": ("es", "contact"),
        "luc@example.com": ("fr", "country"),
        "nobody@example.com": ("", ""),
    }
    html = page.content.decode()
    assert "<td>es</td>" in html and '<i title="from the country">fr</i>' in html
    export = marketer_client.get(reverse("incidents:export", args=[incident.id, "csv"]))
    csv_text = b"".join(export.streaming_content).decode()
    languages = {line.split(",")[0]: line.split(",")[-1] for line in csv_text.splitlines()[1:]}
    assert languages == {"ana@example.com": "es", "luc@example.com": "fr", "nobody@example.com": ""}


def test_it_exports_the_ledger_safely(marketer_client, tmp_path):
    incident = IncidentFactory()
    AffectedPerson.objects.create(
        incident=incident,
        email="=cmd|' /C calc'!A0@example.com",
        messages=3,
        first_at=T0,
        last_at=T0,
        max_in_10_min=3,
        state="subscribed",
        tier=1,
    )
    csv_text = b"".join(
        marketer_client.get(reverse("incidents:export", args=[incident.id, "csv"])).streaming_content
    ).decode()
    lines = csv_text.splitlines()
    assert lines[0] == "email,messages,first_at,last_at,max_in_10_min,state,tier,language"
    assert lines[1].startswith("'=cmd")
    data = b"".join(marketer_client.get(reverse("incidents:export", args=[incident.id, "json"])).streaming_content)
    import json

    rows = json.loads(data)
    assert rows[0]["email"].startswith("=cmd")
    assert rows[0]["tier"] == "2-9"


def test_it_exports_what_the_people_page_lists(marketer_client):
    incident = IncidentFactory()
    for email, state, messages in [("a@example.com", "complained", 3), ("b@example.com", "subscribed", 3)]:
        AffectedPerson.objects.create(
            incident=incident,
            email=email,
            messages=messages,
            first_at=T0,
            last_at=T0,
            max_in_10_min=messages,
            state=state,
            tier=1,
        )
    page = marketer_client.get(reverse("incidents:people", args=[incident.id]), {"state": "complained"})
    url = reverse("incidents:export", args=[incident.id, "csv"]) + "?state=complained"
    assert f'href="{url}"' in page.content.decode()
    response = marketer_client.get(url)
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["a@example.com"]
    assert "complained" in response["Content-Disposition"]
    every = b"".join(marketer_client.get(reverse("incidents:export", args=[incident.id, "csv"])).streaming_content)
    assert len(every.decode().splitlines()) == 3
