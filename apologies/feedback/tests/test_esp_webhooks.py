"""Each ESP's own payloads mean what the ESP says: soft is not hard, blocked is not the address, and every
ESP the README names loads its backend and accepts its documented tracking and inbound payloads."""

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.core.mail import get_connection
from django.test import Client

from apologies.models import DeliveryEvent, Reply
from incidents.contacts import suppressions
from incidents.models import Suppression

pytestmark = pytest.mark.django_db

AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:s3cret").decode()}
FIXTURES = Path(__file__).parent / "fixtures"


CALLBACKS = []


@pytest.fixture(autouse=True)
def _secret(settings, django_capture_on_commit_callbacks):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret"}
    CALLBACKS[:] = [django_capture_on_commit_callbacks]


def post(path: str, body, content_type: str = "application/json", **headers):
    """POST as the ESP does, then run the work it queued (applying the event) as the worker would."""
    data = body if isinstance(body, str) else json.dumps(body)
    with CALLBACKS[0](execute=True):
        return Client().post(path, data, content_type=content_type, **AUTH, **headers)


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def test_it_reads_a_postmark_soft_bounce_as_deferred_without_suppressing():  # case 02
    assert post("/anymail/postmark/tracking/", fixture("02-postmark-softbounce-webhook.json")).status_code == 200
    event = DeliveryEvent.objects.get()
    assert (event.event_type, event.person_state) == ("deferred", "")
    assert not Suppression.objects.exists()


def test_it_reads_a_sendgrid_blocked_bounce_as_the_sender_s_problem_not_the_address():  # case 04
    assert post("/anymail/sendgrid/tracking/", fixture("04-sendgrid-blocked.json")).status_code == 200
    bounce = DeliveryEvent.objects.exclude(event_type="queued").get()
    assert bounce.event_type != "bounced" and bounce.person_state == ""
    assert not Suppression.objects.exists()


def test_it_accepts_mailgun_webhooks_signed_with_the_webhook_signing_key(settings):  # case 16
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": "whsec-not-the-api-key"}
    settings.ANYMAIL.pop("MAILGUN_API_KEY", None)
    payload = fixture("16-mailgun-webhook-signed.json")
    sig = payload["signature"]
    sig["signature"] = hmac.new(
        b"whsec-not-the-api-key", (sig["timestamp"] + sig["token"]).encode(), hashlib.sha256
    ).hexdigest()
    assert post("/anymail/mailgun/tracking/", payload).status_code == 200
    event = DeliveryEvent.objects.get()
    assert (event.event_type, event.person_state) == ("deferred", "")
    assert not Suppression.objects.exists()
    sig["signature"] = "0" * 64  # a forged one is refused
    payload["signature"]["token"] = "another-token-for-another-event-0000000000000000"
    assert post("/anymail/mailgun/tracking/", payload).status_code == 400


def postmark_bounce(type_: str, inactive: bool) -> dict:
    body = fixture("02-postmark-softbounce-webhook.json")
    body.update({"Type": type_, "Inactive": inactive, "ID": hash((type_, inactive)) & 0xFFFFFF})
    return body


@pytest.mark.parametrize(
    "type_, inactive, suppressed",
    [("HardBounce", True, True), ("SoftBounce", True, True), ("SoftBounce", False, False), ("Transient", False, False)],
)
def test_it_suppresses_a_postmark_bounce_only_when_the_address_is_dead(type_, inactive, suppressed):
    post("/anymail/postmark/tracking/", postmark_bounce(type_, inactive))
    assert suppressions.is_suppressed("ines.moreau@example.org") is suppressed


def test_it_reads_a_postmark_spam_notification_as_a_complaint():
    body = postmark_bounce("SpamNotification", True)
    post("/anymail/postmark/tracking/", body)
    assert Suppression.objects.get().reason == Suppression.Reason.COMPLAINED


def test_it_lifts_an_unsubscribe_when_the_esp_says_the_person_subscribed_again():
    suppressions.suppression_add(email="lea@example.fr", reason="unsubscribed", source="test")
    suppressions.suppression_add(email="lea@example.fr", reason="complained", source="test")
    change = {
        "RecordType": "SubscriptionChange",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": "00000000-0000-0000-0000-000000000001",
        "Recipient": "lea@example.fr",
        "Origin": "Recipient",
        "SuppressSending": False,
        "SuppressionReason": None,
        "Tag": "",
        "Metadata": {},
        "ChangedAt": "2026-11-21T10:00:00Z",
    }
    assert post("/anymail/postmark/tracking/", change).status_code == 200
    assert DeliveryEvent.objects.get().person_state == "subscribed"
    assert set(Suppression.objects.values_list("reason", flat=True)) == {"complained"}  # only the unsubscribe


def ses_notification(bounce_type: str, sub_type: str) -> dict:
    message = {
        "notificationType": "Bounce",
        "mail": {
            "timestamp": "2026-11-20T13:05:00.000Z",
            "messageId": f"0100017ses-{bounce_type}",
            "source": "sorry@amends.example",
            "destination": ["kofi@example.com"],
        },
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "bouncedRecipients": [{"emailAddress": "kofi@example.com", "status": "5.1.1", "action": "failed"}],
            "timestamp": "2026-11-20T13:05:02.000Z",
            "feedbackId": f"feedback-{bounce_type}",
        },
    }
    return {
        "Type": "Notification",
        "MessageId": f"sns-{bounce_type}",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Message": json.dumps(message),
        "Timestamp": "2026-11-20T13:05:03.000Z",
        "SignatureVersion": "1",
        "Signature": "unchecked",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
    }


@pytest.mark.parametrize(
    "bounce_type, sub_type, suppressed", [("Permanent", "General", True), ("Transient", "MailboxFull", False)]
)
def test_it_suppresses_ses_permanent_bounces_only(bounce_type, sub_type, suppressed):
    response = post(
        "/anymail/amazon_ses/tracking/",
        ses_notification(bounce_type, sub_type),
        "text/plain",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID=f"sns-{bounce_type}",
    )
    assert response.status_code == 200
    assert suppressions.is_suppressed("kofi@example.com") is suppressed


@pytest.mark.parametrize(
    "backend",
    [
        "anymail.backends.postmark.EmailBackend",
        "anymail.backends.mailgun.EmailBackend",
        "anymail.backends.sendgrid.EmailBackend",
        "anymail.backends.amazon_ses.EmailBackend",
    ],
)
def test_it_loads_the_backend_of_every_esp_the_readme_names(settings, backend):
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "POSTMARK_SERVER_TOKEN": "t",
        "MAILGUN_API_KEY": "k",
        "SENDGRID_API_KEY": "k",
        "AMAZON_SES_CLIENT_PARAMS": {"region_name": "us-east-1"},
    }
    assert get_connection(backend) is not None


INBOUND = {
    "/anymail/postmark/inbound/": (
        {
            "FromFull": {"Email": "jane@example.com", "Name": "Jane"},
            "ToFull": [{"Email": "sorry@amends.localhost", "Name": ""}],
            "Subject": "Re: sorry",
            "TextBody": "Thank you, no harm done.",
            "HtmlBody": "",
            "Headers": [{"Name": "Message-ID", "Value": "<a1@example.com>"}],
            "MessageID": "m1",
        },
        "application/json",
    ),
    "/anymail/sendgrid/inbound/": (
        "from=Jane <jane@example.com>&to=sorry@amends.localhost&subject=Re: sorry&text=Thank you, no harm done."
        "&headers=Message-ID: <a2@example.com>",
        "application/x-www-form-urlencoded",
    ),
}


@pytest.mark.parametrize("path", sorted(INBOUND))
def test_it_accepts_documented_inbound_payloads(path):
    body, content_type = INBOUND[path]
    assert post(path, body, content_type).status_code == 200
    assert Reply.objects.get().kind == "thanks"


def mailgun_signed(key: str) -> dict:
    timestamp, token = "1795179960", "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817"
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": signature}


def test_it_accepts_a_mailgun_inbound_reply_signed_with_the_webhook_signing_key(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": "whsec-inbound"}
    form = {
        **mailgun_signed("whsec-inbound"),
        "recipient": "sorry@amends.localhost",
        "sender": "jane@example.com",
        "from": "Jane <jane@example.com>",
        "To": "sorry@amends.localhost",
        "subject": "Re: sorry",
        "body-plain": "Thank you, no harm done.",
        "message-headers": json.dumps([["Message-Id", "<mg1@example.com>"], ["Subject", "Re: sorry"]]),
    }
    with CALLBACKS[0](execute=True):
        response = Client().post("/anymail/mailgun/inbound/", form, **AUTH)
    assert response.status_code == 200
    assert Reply.objects.get().kind == "thanks"


def test_it_accepts_an_amazon_ses_inbound_reply_through_sns():
    mime = (
        "From: Jane <jane@example.com>\r\nTo: sorry@amends.localhost\r\nSubject: Re: sorry\r\n"
        "Message-ID: <ses1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Please never email me again.\r\n"
    )
    message = {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-11-21T10:00:00.000Z",
            "source": "jane@example.com",
            "messageId": "ses-inbound-1",
            "destination": ["sorry@amends.localhost"],
            "commonHeaders": {"from": ["Jane <jane@example.com>"], "subject": "Re: sorry"},
        },
        "receipt": {"action": {"type": "SNS", "encoding": "UTF8"}, "recipients": ["sorry@amends.localhost"]},
        "content": mime,
    }
    body = {
        "Type": "Notification",
        "MessageId": "sns-inbound-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-inbound",
        "Message": json.dumps(message),
        "Timestamp": "2026-11-21T10:00:01.000Z",
    }
    response = post(
        "/anymail/amazon_ses/inbound/",
        body,
        "text/plain",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="sns-inbound-1",
    )
    assert response.status_code == 200
    reply = Reply.objects.get()
    assert reply.kind == "never_again" and suppressions.is_suppressed("jane@example.com")
