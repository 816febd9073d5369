import threading
from urllib.parse import urlsplit

import pytest
from django.core import mail as django_mail
from django.core import signing
from django.test import Client
from django.urls import reverse

from apologies import links
from apologies.campaigns import planning
from apologies.models import Consent
from apologies.tests.factories import IncidentFactory, contact, person
from apologies.wayback import services as wayback
from config.clientip import client_ip
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


def token_url(recipient, via: str = links.VIA_LINK) -> str:
    return reverse("sorry_person", args=[links.sorry_token(recipient, via=via)])


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
    assert response.status_code == 303  # a reload of the answer never posts again
    assert response["Location"] == token_url(letter) + "/done"
    html = client.get(response["Location"]).content.decode()
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
    html = client.post(token_url(letter), {"choice": "never_again"}, follow=True).content.decode()
    assert "We will not contact you again" in html
    assert Suppression.objects.filter(email="jane@example.com", reason="never_again").exists()


def test_it_keeps_someone_unsubscribed_who_says_no(client, letter):
    html = client.post(token_url(letter), {"choice": "stay_unsubscribed"}, follow=True).content.decode()
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
    assert response.status_code == 303
    # Read the token back rather than compare strings: it is timestamped, and a second may tick over.
    prefix = token_url(letter, via=links.VIA_CODE).rsplit("/", 1)[0] + "/"
    assert response["Location"].startswith(prefix)
    assert links.sorry_token_read(response["Location"][len(prefix) :]) == (letter.id, links.VIA_CODE)


def test_it_forgives_look_alike_characters(client, letter):
    letter.short_code = "ABCD-EF2H"
    letter.save()
    for typed in ["abcd-efzh", "ABCDEFZH"]:
        assert client.post(reverse("sorry"), {"code": typed}).status_code == 303
    letter.short_code = "DQ7J-KMNP"
    letter.save()
    assert client.post(reverse("sorry"), {"code": "0Q7J KMNP"}).status_code == 303


def test_it_answers_a_wrong_code_kindly(client, letter):
    response = client.post(reverse("sorry"), {"code": "ZZZZ-ZZZZ"})
    assert response.status_code == 303
    html = client.get(response["Location"]).content.decode()
    assert "We could not find that code" in html and "9 tries left" in html
    assert 'name="code"' in html and 'value="ZZZZ-ZZZZ"' in html


def test_it_asks_for_the_code_when_none_was_typed_and_keeps_the_tries(client, letter):
    for blank in ["", "   ", " - "]:
        response = client.post(reverse("sorry"), {"code": blank})
        assert response.status_code == 200
        html = response.content.decode()
        assert "Please type the code printed on your letter." in html
        assert "We could not find that code" not in html and 'aria-invalid="true"' in html
    assert wayback.code_tries_left(client_ip(response.wsgi_request)) == 10
    html = client.get(client.post(reverse("sorry"), {"code": "ZZZZ-ZZZZ"})["Location"]).content.decode()
    assert "9 tries left" in html


def test_it_asks_for_the_code_in_the_page_language(client, letter):
    html = client.post(reverse("sorry") + "?lang=fr", {"code": "", "lang": "fr"}).content.decode()
    assert "Veuillez saisir le code imprimé sur votre lettre." in html
    # The Spanish page speaks to the reader as "tú" throughout; this one message said "usted".
    html = client.post(reverse("sorry") + "?lang=es", {"code": "", "lang": "es"}).content.decode()
    assert "Escribe el código impreso en tu carta." in html


def test_it_stops_guessing_after_ten_wrong_tries(client, letter):
    for _ in range(10):
        assert client.post(reverse("sorry"), {"code": "ZZZZ-ZZZZ"}).status_code == 303
    response = client.post(reverse("sorry"), {"code": letter.short_code})
    assert response.status_code == 429
    assert "try again later" in response.content.decode().lower()
    assert client.get(reverse("sorry")).status_code == 429
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert other.post(reverse("sorry"), {"code": letter.short_code}, REMOTE_ADDR="198.51.100.9").status_code == 303


def test_it_counts_parallel_wrong_codes_atomically(settings):
    """200 guesses at once get at most AMENDS_CODE_TRIES tries: the count is taken before any lookup."""
    answered = []
    start = threading.Barrier(200)

    def guess():
        start.wait()
        answered.append(wayback.code_try_take("192.0.2.50"))

    threads = [threading.Thread(target=guess) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(answered) == settings.AMENDS_CODE_TRIES == 10


def test_it_takes_the_client_address_from_the_configured_proxy_only(rf, settings):
    request = rf.get("/sorry/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"  # no proxy configured: a sent header is not believed
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.9"
    spoofed = rf.get("/sorry/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")
    assert client_ip(spoofed) == "203.0.113.9"  # what the client wrote to the left is not believed


def test_it_opens_a_code_typed_into_the_path(client, letter):
    for path in [f"/sorry/{letter.short_code}", f"/Sorry/{letter.short_code.lower()}"]:
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        assert "Jane, we" in response.content.decode()
    response = client.get("/sorry/ZZZZ-ZZZZ")
    assert response.status_code == 404 and "We could not find that code" in response.content.decode()


def test_it_never_loops_on_an_unknown_public_path(client):
    response = client.get("/sorry/a/b", follow=True)
    assert response.status_code == 400 and "This link is not valid" in response.content.decode()


@pytest.mark.parametrize("path", ["/SORRY", "/Sorry/", "/sorry", "/sOrRy/"])
def test_it_forgives_how_the_easy_url_is_typed(client, path):
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert '<label for="code">' in response.content.decode()


@pytest.mark.parametrize("form", [{"choice": "resubscribe"}, {"choice": "resubscribe", "via": ""}])
def test_it_never_skips_double_opt_in_for_a_typed_code(client, letter, form):
    """Dropping or forging the old hidden "via" field cannot turn a typed code into a re-subscription."""
    response = client.post(reverse("sorry"), {"code": letter.short_code})
    client.post(response["Location"], {**form, "via": "letter_link"} if "via" in form else form)
    consent = Consent.objects.get()
    assert consent.via == "letter_code" and consent.confirmation_sent_at and consent.confirmed_at is None
    assert Suppression.objects.filter(email="jane@example.com", reason="unsubscribed").exists()
    assert len(django_mail.outbox) == 1


def test_it_refuses_a_token_whose_arrival_was_edited(letter):
    token = links.sorry_token(letter, via=links.VIA_CODE)
    forged = signing.dumps(letter.id, salt="other")
    assert links.sorry_token_read(token) == (letter.id, links.VIA_CODE)
    assert links.sorry_token_read(forged) is None
    assert links.sorry_token_read(links.sorry_token(letter)) == (letter.id, links.VIA_LINK)


def test_it_shows_a_pending_confirmation_truthfully_and_resends(client, letter, settings):
    settings.AMENDS_CONFIRM_RESEND_SECONDS = 0
    url = token_url(letter, via=links.VIA_CODE)
    client.post(url, {"choice": "resubscribe"})
    for page in (url, url + "/done"):
        html = client.get(page).content.decode()
        assert "You already chose" not in html and "subscribed again" not in html.lower().split("<h2")[0]
        assert "waiting for you to confirm" in html.lower() and "j***@example.com" in html
    response = client.post(reverse("sorry_resend", args=[url.rsplit("/", 1)[1]]))
    assert response.status_code == 303
    assert len(django_mail.outbox) == 2


def test_it_confirms_a_code_resignup_by_email_first(client, letter):
    url = token_url(letter, via=links.VIA_CODE)
    html = client.post(url, {"choice": "resubscribe"}, follow=True).content.decode()
    assert "Check your inbox" in html
    consent = Consent.objects.get()
    assert consent.via == "letter_code" and consent.confirmed_at is None and not consent.counts
    assert Suppression.objects.filter(email="jane@example.com", reason="unsubscribed").exists()
    email = django_mail.outbox[0]
    assert email.to == ["jane@example.com"]
    confirm = next(word for word in email.body.split() if "/confirm/" in word)
    path = urlsplit(confirm).path
    assert "Yes, confirm" in client.get(path).content.decode()
    consent.refresh_from_db()
    assert consent.confirmed_at is None
    response = client.post(path)
    assert response.status_code == 303
    html = client.get(path).content.decode()
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
