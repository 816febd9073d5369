"""The campaign settings page refuses values that make no sense, each error naming the field and the value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apologies.campaigns import planning
from apologies.campaigns.forms import CampaignSettingsForm
from apologies.tests.factories import IncidentFactory, contact, person

pytestmark = pytest.mark.django_db

# Every setting at the value a fresh campaign has, as the page posts them.
VALID = {
    "name": "Sorry",
    "sender_name": "The team",
    "brand_name": "",
    "brand_logo": "",
    "brand_color": "",
    "from_address": "",
    "postal_address": "",
    "default_language": "en",
    "rate_per_second": 50,
    "pause_after_errors": 10,
    "approval_max_age_hours": 24,
    "cost_per_letter": "1.50",
    "cost_per_gift": "12.00",
    "seed_list": "qa@amends.example",
    "pilot_percent": "5",
    "wave_percent": "25",
    "wave_wait_minutes": 240,
    "max_complaint_percent": "0.1",
    "max_bounce_percent": "2",
    "schedule": "now",
    "control_percent": "10",
}


@pytest.fixture
def campaign(marketer):
    incident = IncidentFactory()
    person(incident, "p@example.com")
    contact("p@example.com")
    return planning.campaign_create(incident=incident, name="Sorry", author=marketer, seed_list="qa@amends.example")


def errors(campaign, **changes) -> dict[str, list[str]]:
    form = CampaignSettingsForm({**VALID, **changes}, instance=campaign)
    form.is_valid()
    return dict(form.errors)


def test_it_takes_the_settings_of_a_fresh_campaign(campaign):
    assert errors(campaign) == {}


def test_it_refuses_a_negative_cost_on_the_settings_page(client, marketer, campaign):
    client.force_login(marketer)
    response = client.post(f"/campaigns/{campaign.id}/settings/", {**VALID, "cost_per_letter": "-1"})
    assert response.status_code == 200
    assert "Cost per letter must be 0 or more, not -1." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.cost_per_letter == Decimal("1.50")


def test_it_refuses_negative_costs_and_takes_zero(campaign):
    assert errors(campaign, cost_per_letter="-1.00") == {
        "cost_per_letter": ["Cost per letter must be 0 or more, not -1.00."]
    }
    assert errors(campaign, cost_per_gift="-0.01") == {"cost_per_gift": ["Cost per gift must be 0 or more, not -0.01."]}
    assert errors(campaign, cost_per_letter="0", cost_per_gift="0.00") == {}


def test_it_refuses_each_seed_address_that_is_not_an_email_address(campaign):
    seeds = "qa@amends.example\nnot-an-email\n\nfoo@, boss@amends.example"
    assert errors(campaign, seed_list=seeds) == {
        "seed_list": [
            "Seed list: 'not-an-email' is not an email address.",
            "Seed list: 'foo@' is not an email address.",
        ]
    }
    assert errors(campaign, seed_list="qa@amends.example\n boss@amends.example ,x@example.org\n") == {}
    assert errors(campaign, seed_list="") == {}


def test_it_refuses_an_approval_that_would_be_stale_at_once_or_last_over_a_year(campaign):
    expected = "Approval max age hours must be from 1 to 8,760 hours (a year), not {}."
    assert errors(campaign, approval_max_age_hours=0) == {"approval_max_age_hours": [expected.format(0)]}
    assert errors(campaign, approval_max_age_hours=-1) == {"approval_max_age_hours": [expected.format(-1)]}
    assert errors(campaign, approval_max_age_hours=8761) == {"approval_max_age_hours": [expected.format("8,761")]}
    assert errors(campaign, approval_max_age_hours=1) == errors(campaign, approval_max_age_hours=8760) == {}


def test_it_refuses_pausing_after_zero_failed_sends(campaign):
    # sending.services pauses once consecutive_errors >= pause_after_errors: 0 would pause at the first failure,
    # as 1 does, while reading as "never".
    assert errors(campaign, pause_after_errors=0) == {
        "pause_after_errors": ["Pause after errors must be 1 or more failed sends in a row, not 0."]
    }
    assert errors(campaign, pause_after_errors=1) == {}


def test_it_bounds_the_sending_rate(campaign):
    expected = "Rate per second must be from 1 to 1,000 messages a second, not {}."
    assert errors(campaign, rate_per_second=99999999999) == {"rate_per_second": [expected.format("99,999,999,999")]}
    assert errors(campaign, rate_per_second=1001) == {"rate_per_second": [expected.format("1,001")]}
    assert errors(campaign, rate_per_second=0) == {"rate_per_second": [expected.format(0)]}
    assert errors(campaign, rate_per_second=-5) == {"rate_per_second": [expected.format(-5)]}
    assert errors(campaign, rate_per_second=1) == errors(campaign, rate_per_second=1000) == {}


def test_it_shows_the_bounds_to_the_browser(campaign):
    html = str(CampaignSettingsForm(instance=campaign)["rate_per_second"])
    assert 'min="1"' in html and 'max="1000"' in html


def test_it_refuses_a_logo_that_is_not_served_over_https(campaign):
    for logo in ("http://cdn.example.com/logo.png", "//cdn.example.com/logo.png", "ftp://cdn.example.com/l.png"):
        assert errors(campaign, brand_logo=logo) == {
            "brand_logo": [f"Brand logo must be an https:// URL or a path under static/, not {logo!r}."]
        }, logo
    assert errors(campaign, brand_logo="https://") == {
        "brand_logo": ["Brand logo is not a URL a browser can load: 'https://'."]
    }
    for logo in ("", "img/logo.png", "/static/img/logo.png", "https://cdn.example.com/logo.png"):
        assert errors(campaign, brand_logo=logo) == {}, logo


def test_it_requires_the_time_of_a_schedule_at_a_set_time(client, marketer, campaign):
    assert errors(campaign, schedule="at") == {
        "send_at": ["Send at is empty, but the schedule is “At a set time”: say when to start."]
    }
    assert errors(campaign, schedule="at", send_at="2026-12-01T09:00") == {}
    assert errors(campaign, schedule="morning") == {}
    client.force_login(marketer)
    response = client.post(f"/campaigns/{campaign.id}/settings/", {**VALID, "schedule": "at"})
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.schedule == "now"
