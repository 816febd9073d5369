"""The app-wide audit log: recorded actions and model changes, with the acting user, kept after deletes."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, User
from django.test import Client

from apologies.models import Campaign, CountryPolicy
from incidents.auditlog.access import is_admin
from incidents.auditlog.models import AuditEntry
from incidents.auditlog.services import Filters, audit_record, audit_search
from incidents.models import Incident
from incidents.tests.factories import IncidentFactory


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", "pw"))
    return client


def test_it_records_an_action_with_its_user(marketer):
    audit_record(user=marketer, action="export.affected_csv", target="incident 3", detail="412 rows")
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.username, entry.action, entry.target, entry.detail) == (
        marketer,
        "maya",
        "export.affected_csv",
        "incident 3",
        "412 rows",
    )


def test_it_keeps_entries_when_the_user_and_the_campaign_go(marketer):
    incident = IncidentFactory()
    campaign = Campaign.objects.create(incident=incident, name="Sorry", author=marketer)
    audit_record(user=marketer, action="campaign.approve", target=f"campaign {campaign.id}")
    incident.delete()
    marketer.delete()
    entry = AuditEntry.objects.get()
    assert entry.user is None and entry.username == "maya" and entry.target.startswith("campaign ")


def test_it_records_model_changes_with_the_acting_user(marketer_client, marketer):
    incident = IncidentFactory(title="Loop")
    response = marketer_client.post(
        f"/incidents/{incident.id}/edit/",
        {
            "title": "Welcome loop",
            "what_happened": "Sent 30 times.",
            "started_at": "2026-01-01 10:00",
            "ended_at": "",
            "workflows_text": "",
            "root_cause": "",
            "fix": "A guard.",
            "status": "open",
            "owner": "",
            "tier_text": "1, 2, 10, 50",
        },
    )
    assert response.status_code == 302, response.content
    change = LogEntry.objects.get_for_object(incident).filter(action=LogEntry.Action.UPDATE).get()
    assert change.actor == marketer
    assert change.changes_dict["title"] == ["Loop", "Welcome loop"]
    assert change.remote_addr == "127.0.0.1"


def test_it_tracks_the_models_the_issue_names(db):
    policy = CountryPolicy.objects.create(country="DE", invite_allowed=False)
    policy.invite_allowed = True
    policy.save()
    assert LogEntry.objects.get_for_object(policy).count() == 2


def test_it_searches_both_sources_newest_first(marketer):
    Incident.objects.create(title="Loop", started_at="2026-01-01T10:00Z")
    audit_record(user=marketer, action="campaign.pause", target="campaign 7", detail="reason: too fast")
    rows, total = audit_search(filters=Filters())
    assert total == 2
    assert [r.action for r in rows] == ["campaign.pause", "incident.created"]
    assert [r.action for r in audit_search(filters=Filters(text="too fast"))[0]] == ["campaign.pause"]
    assert [r.action for r in audit_search(filters=Filters(action="incident.created"))[0]] == ["incident.created"]
    assert audit_search(filters=Filters(user="maya"))[1] == 1


def test_it_shows_the_page_to_admins_only(admin_client, marketer_client, viewer, marketer):
    audit_record(user=marketer, action="export.results_csv", target="campaign 9")
    assert marketer_client.get("/audit/").status_code == 403
    marketer_client.force_login(viewer)
    assert marketer_client.get("/audit/").status_code == 403
    response = admin_client.get("/audit/?user=maya&action=export.results_csv&since=2000-01-01&q=campaign")
    assert response.status_code == 200
    assert b"export.results_csv" in response.content and b"campaign 9" in response.content
    assert b"Nothing matches" in admin_client.get("/audit/?q=nothing-like-this").content


def test_it_counts_an_admin_group_member_as_admin(marketer):
    assert not is_admin(marketer)
    marketer.groups.add(Group.objects.get_or_create(name="admin")[0])
    assert is_admin(User.objects.get(pk=marketer.pk))
