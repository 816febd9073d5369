"""Tests of careful sending: the pilot, waves gated by complaint and bounce rates, local hours, never at night."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apologies.campaigns import fingerprint, lifecycle, planning
from apologies.feedback.models import DeliveryEvent
from apologies.models import Campaign, Delivery
from apologies.sending import services as sending
from apologies.sending import tasks, waves, zones
from apologies.tests.factories import IncidentFactory, contact, person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _outbox(settings):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"


def ready(marketer, approver, *, people: int = 40, countries=("US",), **fields) -> Campaign:
    incident = IncidentFactory()
    for i in range(people):
        person(incident, f"w{i:03d}@example.com")
        contact(f"w{i:03d}@example.com", country=countries[i % len(countries)])
    campaign = planning.campaign_create(incident=incident, name="Careful", author=marketer, **fields)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    return campaign


def start(campaign, user, callbacks):
    with callbacks(execute=True):
        sending.campaign_start(campaign=campaign, user=user)
    campaign.refresh_from_db()


def statuses(campaign) -> dict:
    out: dict = {}
    for status in campaign.deliveries.values_list("status", flat=True):
        out[status] = out.get(status, 0) + 1
    return out


def test_it_splits_people_into_a_pilot_and_waves():
    assert waves.wave_sizes(40, pilot_percent=5, wave_percent=25) == [2, 10, 10, 10, 8]
    assert waves.wave_sizes(3, pilot_percent=5, wave_percent=50) == [1, 2]
    assert waves.wave_sizes(0, pilot_percent=5, wave_percent=25) == []


def test_it_sends_only_the_pilot_first_and_keeps_the_campaign_sending(
    marketer, approver, django_capture_on_commit_callbacks
):
    campaign = ready(marketer, approver, pilot=True)
    start(campaign, marketer, django_capture_on_commit_callbacks)
    assert campaign.status == "sending"
    assert statuses(campaign) == {"sent": 2, "held": 38}
    assert set(campaign.deliveries.filter(status="sent").values_list("wave", flat=True)) == {1}
    progress = sending.campaign_progress(campaign=campaign)
    assert progress["held"] == 38
    assert progress["waiting"][0]["wave"] == 2
    assert "wave 2" in progress["waiting"][0]["why"]


def test_it_opens_the_next_wave_only_after_the_wait(marketer, approver, django_capture_on_commit_callbacks):
    campaign = ready(marketer, approver, pilot=True, wave_wait_minutes=60)
    start(campaign, marketer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.advance_waves() == 0  # the pilot's hour is not over
    assert statuses(campaign)["held"] == 38
    Delivery.objects.filter(campaign=campaign, status="sent").update(sent_at=timezone.now() - timedelta(minutes=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.advance_waves() == 1
    campaign.refresh_from_db()
    assert campaign.wave_released == 2
    assert statuses(campaign) == {"sent": 12, "held": 28}
    # Every person once: the database still holds one delivery per person.
    assert campaign.deliveries.count() == 40


def test_it_pauses_when_complaints_cross_the_limit_and_says_why(
    marketer, approver, django_capture_on_commit_callbacks, client
):
    campaign = ready(marketer, approver, pilot=True, wave_wait_minutes=0)
    start(campaign, marketer, django_capture_on_commit_callbacks)
    complained = campaign.deliveries.filter(status="sent").first()
    DeliveryEvent.objects.create(
        delivery=complained, esp_event_id="c1", event_type="complained", person_state="complained", occurred_at=T()
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.advance_waves()
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert "Complaints reached 50.0% (1 of 2 sent" in campaign.paused_reason
    assert statuses(campaign) == {"sent": 2, "held": 38}
    client.force_login(marketer)
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert "Complaints reached 50.0%" in page
    assert "Waiting for a wave or an hour" in page


def test_it_pauses_on_hard_bounces_but_not_on_soft_ones(marketer, approver, django_capture_on_commit_callbacks):
    campaign = ready(marketer, approver, pilot=True, wave_wait_minutes=0, max_bounce_percent=Decimal("60"))
    start(campaign, marketer, django_capture_on_commit_callbacks)
    first, second = campaign.deliveries.filter(status="sent")
    DeliveryEvent.objects.create(
        delivery=first, esp_event_id="s1", event_type="bounced", person_state="", occurred_at=T()
    )
    assert waves.rates(campaign=campaign)["bounces"] == 0
    DeliveryEvent.objects.create(
        delivery=first, esp_event_id="b1", event_type="bounced", person_state="bounced", occurred_at=T()
    )
    assert waves.threshold_crossed(campaign, waves.rates(campaign=campaign)) == ""  # 50% < 60%
    DeliveryEvent.objects.create(
        delivery=second, esp_event_id="b2", event_type="bounced", person_state="bounced", occurred_at=T()
    )
    assert waves.waves_advance(campaign=campaign) == 0
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert campaign.paused_reason.startswith("Hard bounces reached 100.0%")


def test_it_cancels_what_still_waits(marketer, approver, django_capture_on_commit_callbacks):
    campaign = ready(marketer, approver, pilot=True)
    start(campaign, marketer, django_capture_on_commit_callbacks)
    lifecycle.campaign_cancel(campaign=campaign, user=marketer)
    assert statuses(campaign) == {"sent": 2, "cancelled": 38}


def T():
    return timezone.now()


def test_it_finds_the_persons_zone_from_the_contact_then_the_country(settings):
    assert zones.zone_for(time_zone="Asia/Tokyo", country="US") == ZoneInfo("Asia/Tokyo")
    assert zones.zone_for(time_zone="Mars/Olympus", country="US") == ZoneInfo("America/New_York")
    assert zones.zone_for(country="de") == ZoneInfo("Europe/Berlin")
    assert zones.zone_for(country="IS") == ZoneInfo("Atlantic/Reykjavik")  # from zone.tab
    assert zones.zone_for() == ZoneInfo(settings.AMENDS_DEFAULT_PERSON_ZONE)


def test_it_waits_for_each_persons_local_morning(marketer, approver):
    campaign = ready(marketer, approver, people=3, countries=("US", "DE", "US"), schedule="morning")
    tokyo = campaign.recipients.get(email="w002@example.com").contact
    tokyo.time_zone = "Asia/Tokyo"
    tokyo.save()
    sending.deliveries_create(campaign=campaign)
    now = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 22:00 in New York, 04:00 in Berlin, 12:00 in Tokyo
    summary = waves.deliveries_hold(campaign=campaign, now=now)
    assert summary == {"waves": 1, "held": 3, "now": 0}
    due = dict(campaign.deliveries.values_list("email", "next_attempt_at"))
    assert due["w000@example.com"] == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # 09:00 New York
    assert due["w001@example.com"] == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 09:00 Berlin
    assert due["w002@example.com"] == datetime(2026, 11, 21, 0, 0, tzinfo=UTC)  # 09:00 Tokyo, next day
    table = waves.held_summary(campaign=campaign)
    assert [(w["hour_label"], w["count"]) for w in table] == [
        ("2026-11-20 08:00 UTC", 1),
        ("2026-11-20 14:00 UTC", 1),
        ("2026-11-21 00:00 UTC", 1),
    ]
    Campaign.objects.filter(id=campaign.id).update(status="sending")
    campaign.refresh_from_db()
    assert waves.waves_advance(campaign=campaign, now=datetime(2026, 11, 20, 8, 30, tzinfo=UTC)) == 1
    assert campaign.deliveries.get(email="w001@example.com").status == "queued"


def test_it_never_sends_at_night_at_the_set_time(marketer, approver):
    send_at = datetime(2030, 1, 10, 2, 0, tzinfo=UTC)  # 21:00 in New York, 03:00 in Berlin
    campaign = ready(marketer, approver, people=2, countries=("US", "DE"), schedule="at", send_at=send_at)
    sending.deliveries_create(campaign=campaign)
    waves.deliveries_hold(campaign=campaign, now=datetime(2030, 1, 1, tzinfo=UTC))
    due = dict(campaign.deliveries.values_list("email", "next_attempt_at"))
    assert due["w000@example.com"] == datetime(2030, 1, 10, 13, 0, tzinfo=UTC)  # 08:00 New York
    assert due["w001@example.com"] == datetime(2030, 1, 10, 7, 0, tzinfo=UTC)  # 08:00 Berlin


def test_it_holds_everyone_until_the_start_time_then_finishes(marketer, approver, django_capture_on_commit_callbacks):
    later = timezone.now() + timedelta(days=400)
    campaign = ready(marketer, approver, people=4, countries=("DE",), schedule="at", send_at=later)
    start(campaign, marketer, django_capture_on_commit_callbacks)
    assert (campaign.status, statuses(campaign)) == ("sending", {"held": 4})
    Delivery.objects.filter(campaign=campaign).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.advance_waves() == 1
    campaign.refresh_from_db()
    assert (campaign.status, statuses(campaign)) == ("completed", {"sent": 4})


def test_it_counts_the_careful_settings_in_what_was_approved(marketer, approver):
    campaign = ready(marketer, approver, people=2)
    Campaign.objects.filter(id=campaign.id).update(pilot=True)
    assert fingerprint.changed_parts(campaign=campaign) == ["the campaign's settings"]
    Campaign.objects.filter(id=campaign.id).update(pilot=False, wave_released=3, wave_released_at=timezone.now())
    assert fingerprint.changed_parts(campaign=campaign) == []
