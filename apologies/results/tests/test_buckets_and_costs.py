"""Results read like the data: time buckets that follow it, letters counted and costed from rendering."""

from datetime import UTC, datetime, timedelta

import pytest

from apologies.results.services import chart_buckets

pytestmark = pytest.mark.django_db

T = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def test_it_draws_a_days_data_in_hours():
    events = [(T, "re-signups by letter"), (T + timedelta(hours=3), "re-signups by letter"), (T, "replies: thanks")]
    chart = chart_buckets(events)
    assert chart["unit"] == "hour"
    assert chart["days"] == ["21 Nov 09:00", "21 Nov 10:00", "21 Nov 11:00", "21 Nov 12:00"]
    letter = next(s for s in chart["series"] if s["name"] == "re-signups by letter")
    assert letter["values"] == [1, 0, 0, 1]  # a quiet hour is a gap, not left out


def test_it_draws_weeks_in_days():
    chart = chart_buckets([(T, "a"), (T + timedelta(days=6), "a")])
    assert chart["unit"] == "day" and len(chart["days"]) == 7 and chart["series"][0]["values"][-1] == 1


def test_it_draws_nothing_without_data():
    assert chart_buckets([]) == {"days": [], "series": [], "unit": "day"}
