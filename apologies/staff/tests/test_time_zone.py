"""Each staff member reads times in their own zone, UTC until they choose one."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from apologies.staff.services import staff_zone
from incidents.models import Incident

pytestmark = pytest.mark.django_db


def test_it_shows_utc_until_a_zone_is_chosen_then_that_zone(client, marketer):
    client.force_login(marketer)
    assert staff_zone(user=marketer) == "UTC"
    assert "times in UTC" in client.get(reverse("incidents:list")).content.decode()
    response = client.post(reverse("apologies:time_zone"), {"time_zone": "America/New_York"})
    assert response.status_code == 302
    assert staff_zone(user=marketer) == "America/New_York"
    html = client.get(reverse("incidents:create")).content.decode()
    assert "times in America/New_York" in html
    assert "The incident window&#x27;s times are in <strong>America/New_York</strong>" in html or (
        "times are in <strong>America/New_York</strong>" in html
    )


def test_it_refuses_an_unknown_zone(client, marketer):
    client.force_login(marketer)
    response = client.post(reverse("apologies:time_zone"), {"time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assert staff_zone(user=marketer) == "UTC"


def test_it_reads_a_typed_incident_window_in_the_chosen_zone(client, marketer):
    client.force_login(marketer)
    client.post(reverse("apologies:time_zone"), {"time_zone": "Europe/Paris"})
    client.post(
        reverse("incidents:create"),
        {"title": "Loop", "started_at": "2026-11-20 14:00", "status": "open", "tier_text": "1, 2, 10, 50"},
    )
    incident = Incident.objects.get()
    assert incident.started_at == datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
