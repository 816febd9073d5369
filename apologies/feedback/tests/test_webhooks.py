import base64
import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from apologies import links
from apologies.campaigns import planning
from apologies.models import Delivery, DeliveryEvent, Reply
from apologies.sending import esp
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, person
from incidents.models import Suppression

pytestmark = pytest.mark.django_db

AUTH = "Basic " + base64.b64encode(b"hook:s3cret").decode()


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret"}


@pytest.fixture
def delivery(marketer):
    incident = IncidentFactory()
    person(incident, "jane@example.com")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    sending.deliveries_create(campaign=campaign)
    d = Delivery.objects.get()
    Delivery.objects.filter(id=d.id).update(status="sent", esp_message_id="883953f4-6105-42a2-a16a-77a8eac79483")
    d.refresh_from_db()
    return d


def post(path: str, payload: dict, auth: str | None = AUTH, client: Client | None = None):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return (client or Client()).post(path, json.dumps(payload), content_type="application/json", **headers)


def postmark(record_type: str, delivery: Delivery, **extra) -> dict:
    # Shapes from Postmark's webhook documentation.
    event = {
        "RecordType": record_type,
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": delivery.email,
        "Metadata": {"delivery_id": str(delivery.id)},
        "DeliveredAt": "2026-11-21T16:33:54.9070259Z",
    }
    event.update(extra)
    return event


def test_it_refuses_a_webhook_without_the_secret(delivery):
    response = post("/anymail/postmark/tracking/", postmark("Delivery", delivery), auth=None)
    assert 400 <= response.status_code < 500
    assert not DeliveryEvent.objects.exists()


def test_it_records_delivery_and_applies_a_replayed_event_once(delivery, django_capture_on_commit_callbacks):
    bounce = postmark(
        "Bounce",
        delivery,
        ID=4323372036854775807,
        Type="HardBounce",
        TypeCode=1,
        Email=delivery.email,
        BouncedAt="2026-11-21T16:40:00Z",
        Description="Mailbox not found",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post("/anymail/postmark/tracking/", postmark("Delivery", delivery)).status_code == 200
        assert post("/anymail/postmark/tracking/", bounce).status_code == 200
        assert post("/anymail/postmark/tracking/", bounce).status_code == 200  # the ESP retries
    delivery.refresh_from_db()
    assert delivery.delivered_at is not None
    assert delivery.bounced_at is not None
    assert DeliveryEvent.objects.filter(event_type="bounced").count() == 1
    assert Suppression.objects.filter(email=delivery.email, reason="hard_bounce").count() == 1


@pytest.mark.parametrize(
    "record, extra, reason",
    [
        ("SpamComplaint", {"Type": "SpamComplaint", "ID": 42, "Email": "jane@example.com"}, "complained"),
        (
            "SubscriptionChange",
            {"SuppressSending": True, "SuppressionReason": "ManualSuppression", "ChangedAt": "2026-11-21T16:40:00Z"},
            "unsubscribed",
        ),
    ],
)
def test_it_suppresses_complaints_and_unsubscribes(delivery, django_capture_on_commit_callbacks, record, extra, reason):
    with django_capture_on_commit_callbacks(execute=True):
        post("/anymail/postmark/tracking/", postmark(record, delivery, **extra))
    assert Suppression.objects.filter(email="jane@example.com", reason=reason).exists()


def test_it_keeps_an_event_for_an_unknown_message(db, django_capture_on_commit_callbacks):
    event = {
        "RecordType": "Open",
        "MessageID": "nope",
        "Recipient": "who@example.com",
        "ReceivedAt": "2026-11-21T16:40:00Z",
        "FirstOpen": True,
        "Metadata": {},
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert post("/anymail/postmark/tracking/", event).status_code == 200
    stored = DeliveryEvent.objects.get()
    assert stored.delivery is None and stored.applied


def inbound(
    to: str, text: str, *, sender: str = "jane@example.com", subject: str = "Re: We're sorry", headers=()
) -> dict:
    return {
        "FromFull": {"Email": sender, "Name": "Jane"},
        "ToFull": [{"Email": to, "Name": ""}],
        "Subject": subject,
        "TextBody": text,
        "HtmlBody": "",
        "Headers": [{"Name": k, "Value": v} for k, v in headers],
        "MessageID": "inbound-1",
        "Date": "Sat, 21 Nov 2026 10:00:00 +0000",
    }


def test_it_matches_a_reply_by_its_reply_to_address_and_classifies_it(delivery):
    payload = inbound(links.reply_address(delivery.id), "Merci, c'est gentil.\n\nLe ven. a écrit :\n> unsubscribe")
    assert post("/anymail/postmark/inbound/", payload).status_code == 200
    reply = Reply.objects.get()
    assert (reply.delivery, reply.matched_by, reply.kind) == (delivery, "reply_to", "thanks")
    assert reply.campaign == delivery.campaign


def test_it_keeps_a_reply_and_an_event_holding_a_nul_character_showing_it_as_a_replacement_character(
    delivery, django_capture_on_commit_callbacks
):
    # A broken mailer's NUL: no text column takes one, and a failed request would be retried for days.
    payload = inbound(links.reply_address(delivery.id), "Merci\x00 beaucoup", subject="Re:\x00 sorry")
    bounce = postmark("Bounce", delivery, ID=43, Type="HardBounce", TypeCode=1, Description="Mailbox\x00 not found")

    with django_capture_on_commit_callbacks(execute=True):
        assert post("/anymail/postmark/inbound/", payload).status_code == 200
        assert post("/anymail/postmark/tracking/", bounce).status_code == 200

    assert list(Reply.objects.values_list("text", "subject")) == [("Merci\ufffd beaucoup", "Re:\ufffd sorry")]
    event = DeliveryEvent.objects.get()
    assert event.description == "Mailbox\ufffd not found"
    assert event.raw["Description"] == "Mailbox\ufffd not found"
    assert Suppression.objects.filter(email=delivery.email, reason="hard_bounce").exists()


def test_it_matches_by_references_then_by_sender(delivery):
    headers = [("In-Reply-To", "<883953f4-6105-42a2-a16a-77a8eac79483>")]
    post("/anymail/postmark/inbound/", inbound("sorry@amends.localhost", "Why 25 emails?", headers=headers))
    post("/anymail/postmark/inbound/", inbound("sorry@amends.localhost", "ok", sender="JANE@example.com"))
    post("/anymail/postmark/inbound/", inbound("sorry@amends.localhost", "hello", sender="stranger@example.com"))
    got = [(r.matched_by, r.kind, r.delivery_id) for r in Reply.objects.order_by("id")]
    assert got == [
        ("references", "question", delivery.id),
        ("sender", "needs_person", delivery.id),
        ("none", "needs_person", None),
    ]


def test_it_suppresses_never_again_at_once(delivery):
    post("/anymail/postmark/inbound/", inbound(links.reply_address(delivery.id), "Bitte keine E-Mails mehr."))
    assert Reply.objects.get().kind == "never_again"
    assert Suppression.objects.filter(email="jane@example.com", reason="never_again").exists()


def test_it_unsubscribes_through_the_mailto_link(delivery):
    address = esp.headers_for(delivery.id)["List-Unsubscribe"].split("mailto:")[1].rstrip(">")
    post("/anymail/postmark/inbound/", inbound(address, "unsubscribe"))
    assert Suppression.objects.filter(email="jane@example.com", reason="unsubscribed").exists()
    assert not Reply.objects.exists()


def test_it_refuses_unauthenticated_webhooks_even_when_no_secret_was_configured(delivery, settings):
    from config import settings as defaults

    settings.ANYMAIL = defaults.ANYMAIL  # as configured from the environment, without the test's secret
    assert settings.ANYMAIL["WEBHOOK_SECRET"].startswith("amends:")
    assert 400 <= Client().post("/anymail/postmark/tracking/", "{}", content_type="application/json").status_code < 500


@pytest.mark.parametrize(
    "path", ["/anymail/postmark/tracking/", "/anymail/postmark/inbound/", "/anymail/sendgrid/tracking/"]
)
@pytest.mark.parametrize("body", ["", "{not json", "null", "[]", "{}"])
def test_it_answers_400_to_a_malformed_or_empty_body(path, body):
    response = Client(raise_request_exception=False).post(
        path, body, content_type="application/json", HTTP_AUTHORIZATION=AUTH
    )
    assert response.status_code == 400, (path, body, response.status_code)
    assert not DeliveryEvent.objects.exists() and not Reply.objects.exists()


def test_it_stores_a_replayed_inbound_reply_once(delivery):
    payload = inbound(
        links.reply_address(delivery.id),
        "Please never email me again.",
        headers=[("Message-ID", "<CAF=abc123@mail.example.com>")],
    )
    for _ in range(3):
        assert post("/anymail/postmark/inbound/", payload).status_code == 200
    reply = Reply.objects.get()
    assert reply.message_id == "<CAF=abc123@mail.example.com>" and reply.kind == "never_again"
    assert Suppression.objects.filter(email="jane@example.com").count() == 1


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    "case, sender, language",
    [
        ("11a-iphone-curly-en.json", "grace.ho@example.com", "en"),
        ("12-html-only-reply.json", "claire.petit@example.fr", "fr"),
    ],
)
def test_it_reads_real_never_again_replies_and_suppresses_the_sender(case, sender, language):
    payload = json.loads((FIXTURES / case).read_text())
    assert post("/anymail/postmark/inbound/", payload).status_code == 200
    reply = Reply.objects.get()
    assert (reply.kind, reply.language, reply.from_email) == ("never_again", language, sender)
    assert Suppression.objects.filter(email=sender, reason="never_again").exists()


def test_it_shows_only_the_own_words_of_an_outlook_html_reply(viewer_client):
    # ../shared/cases/realworld/12-html-only-reply.json: the quote under <hr id="stopSpelling"> starts with "Date:".
    payload = json.loads((FIXTURES / "12-html-only-reply.json").read_text())
    assert post("/anymail/postmark/inbound/", payload).status_code == 200
    reply = Reply.objects.get()
    page = viewer_client.get(reverse("apologies:reply_detail", args=[reply.id])).content.decode()
    own = page.split("<blockquote>", 1)[1].split("</blockquote>", 1)[0]
    assert own == "Merci de ne plus m&#x27;écrire.<br>Claire"
