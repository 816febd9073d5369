import pytest
from django.core import mail as django_mail
from django.core import signing
from django.test import Client
from django.urls import reverse

from apologies import links
from apologies.campaigns import planning
from apologies.models import Consent
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def letter(marketer):
    """Someone who unsubscribed, has a US address, and got a letter with an invitation."""
    incident = IncidentFactory(what_happened="Our workflow looped.")
    person(incident, "jane@example.com", state="unsubscribed", messages=25)
    contact("jane@example.com", first_name="Jane")
    Suppression.objects.create(email="jane@example.com", reason="unsubscribed")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    return campaign.recipients.get()


def token_url(recipient) -> str:
    return reverse("sorry_person", args=[links.sorry_token(recipient)])


def test_it_shows_the_personal_apology_on_get_and_changes_nothing(client, letter):
    response = client.get(token_url(letter))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Jane, we&#x27;re sorry" in html or "Jane, we're sorry" in html
    assert "25 emails" in html and "Our workflow looped." in html
    assert "j***@example.com" in html
    assert response["Cache-Control"] == "private, no-store"
    assert not Consent.objects.exists()
    assert Suppression.objects.filter(email="jane@example.com").exists()


def test_it_resubscribes_on_post_and_says_so(letter):
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Mozilla/5.0 (phone)")
    response = client.post(token_url(letter), {"choice": "resubscribe"}, REMOTE_ADDR="203.0.113.7")
    html = response.content.decode()
    assert response.status_code == 200
    assert "You are subscribed again as <strong>j***@example.com</strong>" in html
    consent = Consent.objects.get()
    assert (consent.choice, consent.via, consent.channel) == ("resubscribe", "letter_link", "letter")
    assert (consent.ip, consent.user_agent) == ("203.0.113.7", "Mozilla/5.0 (phone)")
    assert (
        consent.text_shown
        == "Yes, send emails from Amends demo to j***@example.com again. I can unsubscribe at any time."
    )
    assert consent.campaign == letter.campaign
    assert not Suppression.objects.filter(email="jane@example.com", reason="unsubscribed").exists()


def test_it_counts_a_double_post_once(client, letter):
    client.post(token_url(letter), {"choice": "resubscribe"})
    client.post(token_url(letter), {"choice": "resubscribe"})
    assert Consent.objects.count() == 1


def test_it_puts_never_again_on_the_suppression_list(client, letter):
    html = client.post(token_url(letter), {"choice": "never_again"}).content.decode()
    assert "We will not contact you again" in html
    assert Suppression.objects.filter(email="jane@example.com", reason="never_again").exists()


def test_it_keeps_someone_unsubscribed_who_says_no(client, letter):
    html = client.post(token_url(letter), {"choice": "stay_unsubscribed"}).content.decode()
    assert "You stay unsubscribed" in html
    assert Suppression.objects.filter(email="jane@example.com", reason="unsubscribed").exists()


def test_it_refuses_tampered_and_expired_links_with_the_code_form(client, letter, settings):
    token = links.sorry_token(letter)
    response = client.get(reverse("sorry_person", args=[token[:-3] + "abc"]))
    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    assert 'name="code"' in response.content.decode()
    settings.AMENDS_SORRY_LINK_DAYS = -1
    assert client.get(reverse("sorry_person", args=[token])).status_code == 400


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "  {spaced}  ", "{nodash}"])
def test_it_reads_codes_however_they_are_typed(client, letter, typed):
    code = letter.short_code
    text = typed.format(
        code=code, lower=code.lower(), spaced=" ".join(code.replace("-", "")), nodash=code.replace("-", "")
    )
    response = client.post(reverse("sorry"), {"code": text})
    assert response.status_code == 302
    assert response["Location"] == token_url(letter) + "?via=code"


def test_it_forgives_look_alike_characters(client, letter):
    letter.short_code = "ABCD-EF2H"
    letter.save()
    for typed in ["abcd-efzh", "ABCDEFZH"]:
        assert client.post(reverse("sorry"), {"code": typed}).status_code == 302
    letter.short_code = "DQ7J-KMNP"
    letter.save()
    assert client.post(reverse("sorry"), {"code": "0Q7J KMNP"}).status_code == 302


def test_it_answers_a_wrong_code_kindly(client, letter):
    response = client.post(reverse("sorry"), {"code": "ZZZZ-ZZZZ"})
    assert response.status_code == 404
    html = response.content.decode()
    assert "We could not find that code" in html
    assert 'name="code"' in html


def test_it_stops_guessing_after_ten_wrong_tries(client, letter):
    for _ in range(10):
        assert client.post(reverse("sorry"), {"code": "ZZZZ-ZZZZ"}).status_code == 404
    response = client.post(reverse("sorry"), {"code": letter.short_code})
    assert response.status_code == 429
    assert "try again later" in response.content.decode().lower()
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert other.post(reverse("sorry"), {"code": letter.short_code}, REMOTE_ADDR="198.51.100.9").status_code == 302


def test_it_confirms_a_code_resignup_by_email_first(client, letter):
    url = token_url(letter) + "?via=code"
    html = client.post(url, {"choice": "resubscribe", "via": "code"}).content.decode()
    assert "Check your inbox" in html
    consent = Consent.objects.get()
    assert consent.via == "letter_code" and consent.confirmed_at is None and not consent.counts
    assert Suppression.objects.filter(email="jane@example.com", reason="unsubscribed").exists()
    email = django_mail.outbox[0]
    assert email.to == ["jane@example.com"]
    confirm = next(word for word in email.body.split() if "/confirm/" in word)
    path = confirm.split("testserver")[-1].replace("http://127.0.0.1:8000", "")
    assert "Yes, confirm" in client.get(path).content.decode()
    consent.refresh_from_db()
    assert consent.confirmed_at is None
    html = client.post(path).content.decode()
    assert "You are subscribed again" in html
    consent.refresh_from_db()
    assert consent.confirmed_at is not None and consent.counts
    assert not Suppression.objects.filter(email="jane@example.com", reason="unsubscribed").exists()


def test_it_refuses_a_forged_confirmation(client, letter):
    forged = signing.dumps(999, salt="something-else")
    assert client.get(reverse("sorry_confirm", args=[forged])).status_code == 400


def test_it_serves_the_easy_url_without_a_slash_and_no_third_party_requests(client):
    assert client.get("/sorry")["Location"] == "/sorry/"
    html = client.get("/sorry/").content.decode()
    assert "http://" not in html.replace("http://testserver", "") and "https://" not in html
    assert '<label for="code">' in html


def test_it_shows_a_choice_made_since_the_page_was_cached(client, letter):
    assert "You already chose" not in client.get(token_url(letter)).content.decode()
    client.post(token_url(letter), {"choice": "stay_unsubscribed"})
    assert "You already chose: stayed unsubscribed" in client.get(token_url(letter)).content.decode()
