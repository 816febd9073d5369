"""Tests of letters through Lob, against tests/mock_lob.py: once each, verified, tracked, and the results."""

import hashlib
import hmac
import json
import time

import pytest

from apologies.api.tokens import api_token_create
from apologies.letters.providers import services, tasks
from apologies.letters.providers.lob import Lob
from apologies.models import Delivery, ProviderEvent, ProviderLetter
from apologies.results import services as outcomes
from apologies.tests.letters_factories import letter_campaign
from incidents.models import Suppression
from tests.mock_lob import API_KEY, MockLob

pytestmark = pytest.mark.django_db
SECRET = "whsec_test"


@pytest.fixture
def lob(settings):
    with MockLob() as mock:
        settings.AMENDS_LETTER_PROVIDER = "lob"
        settings.AMENDS_LOB_API_URL = mock.url
        settings.AMENDS_LOB_API_KEY = API_KEY
        settings.AMENDS_LOB_WEBHOOK_SECRET = SECRET
        settings.AMENDS_PROVIDER_TIMEOUT = 10
        yield mock


PEOPLE = {
    "ann@example.com": {"first_name": "Ann"},
    "bob@example.com": {"first_name": "Bob", "country": "DE"},
}


def started(marketer, approver, people=PEOPLE):
    return letter_campaign(marketer, approver, people=people)


def hand_over(campaign, user, callbacks) -> int:
    with callbacks(execute=True):
        return services.provider_letters_start(campaign=campaign, user=user)


def test_it_sends_each_letter_once_with_the_deliverys_idempotency_key(
    lob, marketer, approver, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver)
    assert hand_over(campaign, approver, django_capture_on_commit_callbacks) == 2
    assert len(lob.letters) == 2
    for d in campaign.deliveries.filter(channel="letter"):
        letter = lob.letters[d.esp_message_id]
        assert d.status == "sent"
        assert letter.idempotency_key == f"amends-delivery-{d.id}"
        assert letter.metadata["delivery_id"] == str(d.id)
        assert letter.use_type == "operational"
        assert letter.pdf_bytes > 1000
        assert letter.sender["name"] == "Amends Inc."
        assert (letter.sender["address_city"], letter.sender["address_state"]) == ("San Francisco", "CA")
        assert d.provider_letter.status == "created"
        assert d.provider_letter.verification == "deliverable"
    ann = lob.letters[Delivery.objects.get(email="ann@example.com").esp_message_id]
    assert (ann.to["name"], ann.to["address_country"]) == ("Ann Doe", "US")
    # Verified where Lob offers it: the US and abroad.
    assert ("POST", "/v1/us_verifications") in lob.requests
    assert ("POST", "/v1/intl_verifications") in lob.requests
    # Again: nothing left to hand over, nothing sent twice.
    assert hand_over(campaign, approver, django_capture_on_commit_callbacks) == 0
    assert tasks.send_provider_letter(Delivery.objects.get(email="ann@example.com").id) == "taken"
    assert len(lob.letters) == 2


def test_it_retries_a_lost_answer_without_printing_a_second_letter(
    lob, marketer, approver, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver, people={"ann@example.com": {}})
    lob.lose_answer_next = 1
    hand_over(campaign, approver, django_capture_on_commit_callbacks)
    letter = ProviderLetter.objects.get()
    assert (letter.status, letter.attempts) == ("queued", 1)
    assert "500" in letter.error
    assert tasks.send_provider_letter(letter.delivery_id) == "created"
    assert len(lob.letters) == 1
    delivery = Delivery.objects.get(id=letter.delivery_id)
    assert (delivery.status, delivery.esp_message_id) == ("sent", next(iter(lob.letters)))


def test_it_holds_a_letter_whose_address_lob_says_is_undeliverable(
    lob, marketer, approver, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver, people={"ann@example.com": {"address_line1": "1 Nowhere Rd"}})
    hand_over(campaign, approver, django_capture_on_commit_callbacks)
    letter = ProviderLetter.objects.get()
    assert (letter.status, letter.verification) == ("undeliverable", "undeliverable")
    assert Delivery.objects.get(id=letter.delivery_id).status == "failed"
    assert lob.letters == {}


def test_it_gives_up_on_a_refused_letter_and_skips_who_asked_never_again(
    lob, marketer, approver, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver)
    Suppression.objects.create(email="bob@example.com", reason="never_again")
    lob.fail_next = [422]  # Ann's verification is refused as a bad request: no retry
    hand_over(campaign, approver, django_capture_on_commit_callbacks)
    statuses = dict(campaign.deliveries.values_list("email", "status"))
    assert statuses == {"ann@example.com": "failed", "bob@example.com": "skipped"}
    assert lob.letters == {}


def test_it_refuses_before_sending_starts_or_without_a_provider(lob, marketer, approver, settings):
    campaign = letter_campaign(marketer, approver, people={"ann@example.com": {}}, start=False)
    with pytest.raises(services.CampaignError, match="once sending has started"):
        services.provider_letters_start(campaign=campaign, user=approver)
    settings.AMENDS_LETTER_PROVIDER = ""
    with pytest.raises(services.CampaignError, match="No print-and-mail provider"):
        services.provider_letters_start(campaign=campaign, user=approver)


def post_event(client, lob, letter_id, name, **kwargs):
    body, headers = lob.signed_event(letter_id, name, secret=SECRET, **kwargs)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return client.post("/providers/lob/tracking/", body, content_type="application/json", **extra), body, extra


def test_it_follows_lobs_tracking_events_to_each_letter_and_the_results(
    lob, client, marketer, approver, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver)
    hand_over(campaign, approver, django_capture_on_commit_callbacks)
    ann = Delivery.objects.get(email="ann@example.com")
    bob = Delivery.objects.get(email="bob@example.com")
    for name in ("letter.mailed", "letter.in_transit", "letter.delivered"):
        assert post_event(client, lob, ann.esp_message_id, name)[0].status_code == 200
    # An event Lob sends again counts once; a late, older event does not move a letter back.
    response, body, extra = post_event(client, lob, ann.esp_message_id, "letter.in_local_area")
    assert client.post("/providers/lob/tracking/", body, content_type="application/json", **extra).status_code == 200
    post_event(client, lob, bob.esp_message_id, "letter.mailed")
    post_event(client, lob, bob.esp_message_id, "letter.returned_to_sender")
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert ann.provider_letter.status == "delivered"
    assert ann.provider_letter.mailed_at and ann.provider_letter.delivered_at
    assert ann.delivered_at is not None
    assert (bob.provider_letter.status, bob.bounced_at is not None) == ("returned", True)
    assert ProviderEvent.objects.count() == 6
    results = outcomes.results_for(campaigns=[campaign], affected=2)
    assert results["letters_tracked"] == {"delivered": 1, "returned": 1}


def test_it_refuses_an_unsigned_or_stale_tracking_event(
    lob, client, marketer, approver, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver, people={"ann@example.com": {}})
    hand_over(campaign, approver, django_capture_on_commit_callbacks)
    letter_id = Delivery.objects.get().esp_message_id
    body, headers = lob.signed_event(letter_id, "letter.delivered", secret="not the secret")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    assert client.post("/providers/lob/tracking/", body, content_type="application/json", **extra).status_code == 403
    stale, _body, _extra = post_event(client, lob, letter_id, "letter.delivered", stamp="1600000000000")
    assert stale.status_code == 403
    assert client.post("/providers/lob/tracking/", body, content_type="application/json").status_code == 403
    assert client.get("/providers/lob/tracking/").status_code == 405
    assert client.post("/providers/nobody/tracking/", body, content_type="application/json").status_code == 404
    assert not ProviderEvent.objects.exists()


def test_it_reads_lobs_event_types_into_our_kinds():
    lob = Lob(api_key="k", url="http://127.0.0.1:9", webhook_secret=SECRET)
    event = {
        "id": "evt_1",
        "event_type": {"id": "letter.processed_for_delivery"},
        "date_created": "2026-11-25T10:00:00Z",
    }
    event["body"] = {"id": "ltr_1", "metadata": {"delivery_id": "7"}}
    body = json.dumps(event).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    read = lob.tracking_event(body=body, headers={"Lob-Signature": signature, "Lob-Signature-Timestamp": stamp})
    assert (read.kind, read.provider_id, read.delivery_id, read.name) == (
        "in_transit",
        "ltr_1",
        7,
        event["event_type"]["id"],
    )
    postcard = json.dumps({"id": "evt_2", "event_type": {"id": "postcard.mailed"}, "body": {"id": "psc_1"}}).encode()
    signature = hmac.new(SECRET.encode(), stamp.encode() + b"." + postcard, hashlib.sha256).hexdigest()
    assert (
        lob.tracking_event(body=postcard, headers={"Lob-Signature": signature, "Lob-Signature-Timestamp": stamp})
        is None
    )


def test_it_hands_letters_over_through_the_api(
    lob, client, marketer, approver, viewer, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver, people={"ann@example.com": {}})
    url = f"/api/campaigns/{campaign.id}/letters/provider"
    _token, raw = api_token_create(user=viewer, name="t")
    assert client.post(url, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 403
    _token, raw = api_token_create(user=approver, name="t")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert (response.status_code, response.json()) == (202, {"queued": 1})
    assert len(lob.letters) == 1
