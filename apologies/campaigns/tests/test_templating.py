import pytest
from django.utils.safestring import mark_safe

from apologies.campaigns import templating


def test_it_fills_placeholders_with_fallbacks():
    text = 'Hi {{ first_name or "there" }}, you got {{emails_received}} emails.'
    assert templating.render(text, {"first_name": "Zoë", "emails_received": 25}, as_html=False) == (
        "Hi Zoë, you got 25 emails."
    )
    assert templating.render(text, {"first_name": ""}, as_html=False) == "Hi there, you got  emails."


def test_it_escapes_values_in_html_but_not_safe_ones():
    out = templating.render(
        "<p>{{ first_name }}</p>{{ invitation }}",
        {"first_name": "<script>x</script>", "invitation": mark_safe('<a href="u">back</a>')},
        as_html=True,
    )
    assert out == '<p>&lt;script&gt;x&lt;/script&gt;</p><a href="u">back</a>'


@pytest.mark.parametrize(
    "text, problem",
    [
        ("Hi {{ firstname }}", "unknown placeholder 'firstname'"),
        ("Hi {{ first_name|upper }}", "is not a placeholder"),
        ("{% load static %}", "tags are not allowed"),
        ("Hi {{ first_name", "not closed"),
        ("line one\n{{ settings.SECRET_KEY }}", "line 2"),
    ],
)
def test_it_refuses_anything_but_known_placeholders(text, problem):
    problems = templating.validate(text)
    assert problems
    assert any(problem in p for p in problems), problems


def test_it_keeps_the_way_back_inside_the_invitation():
    assert templating.validate("Come back: {{ resubscribe_url }}")
    assert templating.validate("Come back: {{ resubscribe_url }} code {{ short_code }}", invitation=True) == []
    assert templating.validate("{{ invitation }}", invitation=True)


def test_it_turns_placeholders_into_esp_merge_fields():
    keys: dict = {}
    subject = templating.to_merge_fields("Sorry {{ first_name }}", "%recipient.{}%", as_html=False, keys=keys)
    body = templating.to_merge_fields(
        '<p>Hi {{ first_name or "there" }}</p>', "%recipient.{}%", as_html=True, keys=keys
    )
    assert subject == "Sorry %recipient.t0%"
    assert body == "<p>Hi %recipient.h1%</p>"
    assert templating.merge_values(keys, {"first_name": "O'Neill & Sons"}) == {
        "t0": "O'Neill & Sons",
        "h1": "O&#x27;Neill &amp; Sons",
    }
    assert templating.merge_values(keys, {})["h1"] == "there"
