"""The watch rules' form refuses windows and thresholds that make no sense, each error naming the field and value."""

from __future__ import annotations

import pytest

from incidents.watch import services
from incidents.watch.forms import RuleForm
from incidents.watch.models import WatchRule

pytestmark = pytest.mark.django_db

WINDOW = "Window (seconds) must be whole minutes from 60 (1 minute) to 1,800 (30 minutes), not {}."


def errors(kind: str, threshold="5", minimum="600") -> dict[str, list[str]]:
    data = {f"{kind}-kind": kind, f"{kind}-enabled": "on", f"{kind}-threshold": threshold, f"{kind}-minimum": minimum}
    form = RuleForm(data, prefix=kind)
    form.is_valid()
    return dict(form.errors)


def test_it_takes_every_rule_at_its_default():
    for kind, threshold, minimum in [
        ("person_burst", "5", "600"),
        ("volume", "10", "500"),
        ("suppressed", "0", "600"),
        ("complaints", "0.1", "1000"),
    ]:
        assert errors(kind, threshold, minimum) == {}, kind


def test_it_refuses_a_window_under_a_minute():
    for kind in ("person_burst", "suppressed"):
        assert errors(kind, minimum="0") == {"minimum": [WINDOW.format(0)]}, kind
        assert errors(kind, minimum="59") == {"minimum": [WINDOW.format(59)]}, kind
        assert errors(kind, minimum="60") == {}, kind


def test_it_refuses_a_window_the_sentence_cannot_say_or_the_watch_cannot_keep():
    # The rule's sentence says window // 60 minutes; the watch forgets a person's messages after 30 minutes.
    assert errors("person_burst", minimum="90") == {"minimum": [WINDOW.format(90)]}
    assert errors("person_burst", minimum="3600") == {"minimum": [WINDOW.format("3,600")]}
    assert errors("person_burst", minimum="1800") == {}


def test_it_keeps_zero_least_messages_for_the_hourly_rules():
    assert errors("volume", minimum="0") == errors("complaints", "1", minimum="0") == {}
    assert errors("volume", minimum="-1") == {
        "minimum": ["Least messages in the hour must be from 0 to 2,147,483,647, not -1."]
    }


def test_it_refuses_a_complaints_threshold_outside_a_percent():
    expected = "Threshold (a percent of the hour's messages) must be from 0 to 100, not {}."
    assert errors("complaints", "500", "1000") == {"threshold": [expected.format(500)]}
    assert errors("complaints", "-0.5", "1000") == {"threshold": [expected.format(-0.5)]}
    assert errors("complaints", "100", "1000") == errors("complaints", "0", "1000") == {}


def test_it_names_the_threshold_it_refuses():
    assert errors("person_burst", "-1") == {"threshold": ["Threshold must be 0 or more, not -1."]}
    assert errors("volume", "many", "500") == {"threshold": ["Threshold must be a number."]}


def test_it_sums_up_what_it_refused_naming_each_field():
    form = RuleForm(
        {"complaints-kind": "complaints", "complaints-threshold": "500", "complaints-minimum": "-3"},
        prefix="complaints",
    )
    assert not form.is_valid()
    assert form.problems() == (
        "Threshold (a percent of the hour's messages) must be from 0 to 100, not 500. "
        "Least messages in the hour must be from 0 to 2,147,483,647, not -3."
    )


def test_it_does_not_save_a_rule_refused_on_the_page(marketer_client):
    for kind, threshold, minimum in [("person_burst", "5", "0"), ("complaints", "500", "1000")]:
        response = marketer_client.post(
            f"/watch/rules/{kind}/",
            {f"{kind}-kind": kind, f"{kind}-threshold": threshold, f"{kind}-minimum": minimum},
        )
        assert response.status_code == 400
    assert not WatchRule.objects.exists()


def test_it_says_on_the_page_which_value_it_refused(marketer_client):
    response = marketer_client.post(
        "/watch/rules/complaints/",
        {"complaints-kind": "complaints", "complaints-threshold": "500", "complaints-minimum": "1000"},
    )
    page = response.content.decode()
    assert "The rule was not saved" in page
    assert (
        'id="id_complaints-threshold">\n  <small class="help error" role="alert">Threshold (a percent of the '
        "hour&#x27;s messages) must be from 0 to 100, not 500.</small>" in page
    )


def test_it_keeps_what_was_typed_and_says_beside_it_what_is_wrong_and_allowed(marketer_client):
    response = marketer_client.post(
        "/watch/rules/person_burst/",
        {"person_burst-kind": "person_burst", "person_burst-threshold": "12", "person_burst-minimum": "90"},
    )
    assert response.status_code == 400 and not WatchRule.objects.exists()
    page = response.content.decode()
    threshold = page.split('name="person_burst-threshold"', 1)[1].split(">", 1)[0]
    window = page.split('name="person_burst-minimum"', 1)[1].split("</small>", 2)
    assert 'value="12"' in threshold and 'min="0"' in threshold and 'max="10000"' in threshold
    assert 'step="1"' in threshold
    assert 'value="90"' in window[0] and 'min="60"' in window[0] and 'max="1800"' in window[0]
    assert 'step="60"' in window[0]
    assert WINDOW.format(90) in window[0]  # beside its field, not only at the top
    assert "whole minutes from 60 (1 minute) to 1,800 (30 minutes)" in window[1]
    assert "The messages to one person it allows: a whole number from 0 to 10,000." in page
    # The other rules keep their saved values.
    assert 'name="suppressed-minimum" value="600"' in page


def test_it_refuses_a_threshold_no_rule_could_reach():
    assert errors("person_burst", "999999999999") == {
        "threshold": ["Threshold (messages to one person) must be from 0 to 10,000, not 999,999,999,999."]
    }
    assert errors("volume", "1e12", "500") == {
        "threshold": ["Threshold (times the usual hourly volume) must be from 0 to 1,000, not 1,000,000,000,000."]
    }
    assert errors("suppressed", "2.5") == {
        "threshold": ["Threshold (messages to suppressed addresses) must be a whole number."]
    }
    assert errors("suppressed", "1000000") == errors("volume", "2.5", "500") == {}
    with pytest.raises(ValueError, match="at most 10,000"):
        services.rule_update(kind="person_burst", enabled=True, threshold=999999999999, minimum=600)
    assert not WatchRule.objects.exists()


def test_it_shows_counted_thresholds_as_whole_numbers(marketer_client):
    services.rule_update(kind="suppressed", enabled=True, threshold=1000, minimum=600)
    page = marketer_client.get("/watch/").content.decode()
    assert 'name="person_burst-threshold" value="5"' in page and 'value="5.0"' not in page
    assert "A person receives more than 5 messages from one workflow in 10 minutes." in page
    assert "More than 1,000 messages go to addresses on the suppression list" in page
    assert 'name="suppressed-threshold" value="1000"' in page
    assert "drew 3 complaints" in page and "at least 1,000 messages" in page
