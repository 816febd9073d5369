"""Tests of every ESP module of incidents.sendlogs on its sample: detection, the events read, and refusals by name.

They need no Django: pytest incidents/sendlogs/tests/test_formats.py -p no:django --noconftest
"""

import io
import itertools
from pathlib import Path

import orjson
import pytest

from incidents.sendlogs import (
    FORMATS,
    FormatError,
    Rejected,
    detect_format,
    open_log,
    parse,
    records_from_esp_event,
)
from incidents.vocabulary import EventType

SAMPLES = Path(__file__).parent.parent / "samples"
CASES = Path(__file__).parent.parent.parent / "tests" / "cases"


def sample(name: str) -> bytes:
    lines = (SAMPLES / name).read_bytes().splitlines(keepends=True)
    return b"".join(itertools.dropwhile(lambda line: line.startswith(b"#"), lines))


def read(data: bytes, fmt: str, **options: object) -> list:
    return list(parse(open_log(io.BytesIO(data)), fmt, **options))


def events(data: bytes, fmt: str) -> list[tuple[str, str]]:
    return [(r.recipient, r.event) for r in read(data, fmt)]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("brevo_webhooks.ndjson", "brevo"),
        ("mailjet_events.json", "mailjet"),
        ("sparkpost_webhooks.json", "sparkpost"),
        ("mandrill_webhooks.json", "mandrill"),
        ("mandrill_activity.csv", "mandrill_csv"),
        ("resend_webhooks.ndjson", "resend"),
        ("mailersend_webhooks.ndjson", "mailersend"),
        ("postal_webhooks.ndjson", "postal"),
    ],
)
def test_it_detects_each_new_format(name: str, fmt: str) -> None:
    assert fmt in FORMATS
    assert detect_format(sample(name)) == fmt


def test_it_reads_brevo_webhooks() -> None:
    records = read(sample("brevo_webhooks.ndjson"), "brevo")
    assert [(r.recipient, r.event) for r in records] == [
        ("jane.doe@example.com", "sent"),
        ("jane.doe@example.com", "delivered"),
        ("gone@example.com", "bounced"),
        ("full@example.com", "deferred"),
        ("blocked@example.com", "rejected"),
        ("jane.doe@example.com", "opened"),
        ("jane.doe@example.com", "clicked"),
        ("jane.doe@example.com", "complained"),
        ("full@example.com", "unsubscribed"),
    ]
    assert records[0].message_id == "202611201305.12345678901@smtp-relay.mailin.fr"
    assert records[0].workflows == ("trial-nurture",)
    assert records[0].occurred_at.isoformat() == "2026-11-20T13:05:00+00:00"  # ts_epoch, not the account's zone
    assert records[2].detail == "hard: 550 5.1.1 user unknown"


def test_it_reads_case_06_as_brevo() -> None:
    data = (CASES / "06-brevo-webhooks.ndjson").read_bytes()
    assert detect_format(data) == "brevo"
    assert events(data, "brevo") == [
        ("maria.lopez@example.es", "sent"),
        ("maria.lopez@example.es", "delivered"),
        ("jan.novak@no-mx.example.cz", "deferred"),
        ("maria.lopez@example.es", "complained"),
    ]


def test_it_reads_mailjet_batches() -> None:
    records = read(sample("mailjet_events.json"), "mailjet")
    assert [(r.recipient, r.event) for r in records] == [
        ("jane.doe@example.com", "delivered"),
        ("jane.doe@example.com", "opened"),
        ("gone@example.com", "bounced"),
        ("full@example.com", "deferred"),
        ("listed@example.com", "deferred"),
        ("pre@example.com", "rejected"),
        ("jane.doe@example.com", "complained"),
        ("jane.doe@example.com", "unsubscribed"),
    ]
    assert records[0].message_id == "19421777835146490"
    assert records[0].workflows == ("trial-nurture", "7173")


def test_it_reads_sparkpost_webhook_batches() -> None:
    records = read(sample("sparkpost_webhooks.json"), "sparkpost")
    assert [(r.recipient, r.event) for r in records] == [
        ("jane.doe@example.com", "queued"),
        ("jane.doe@example.com", "delivered"),
        ("gone@example.com", "bounced"),
        ("listed@example.com", "deferred"),
        ("full@example.com", "deferred"),
        ("jane.doe@example.com", "opened"),
        ("jane.doe@example.com", "complained"),
        ("jane.doe@example.com", "unsubscribed"),
    ]
    assert {r.message_id for r in records if r.recipient == "jane.doe@example.com"} == {"65832150921904138"}
    assert records[0].workflows == ("trial-nurture", "day-3")


def test_it_reads_mandrill_webhook_batches() -> None:
    assert events(sample("mandrill_webhooks.json"), "mandrill") == [
        ("jane.doe@example.com", "sent"),
        ("slow@example.com", "deferred"),
        ("gone@example.com", "bounced"),
        ("listed@example.com", "deferred"),
        ("full@example.com", "deferred"),
        ("rejected@example.com", "rejected"),
        ("jane.doe@example.com", "opened"),
        ("jane.doe@example.com", "complained"),
        ("jane.doe@example.com", "unsubscribed"),
    ]


def test_it_reads_the_mandrill_activity_export_one_message_a_row() -> None:
    records = read(sample("mandrill_activity.csv"), "mandrill_csv")
    assert [(r.recipient, r.event) for r in records] == [
        ("jane.doe@example.com", "sent"),
        ("gone@example.com", "bounced"),
        ("full@example.com", "deferred"),
        ("spam@example.com", "complained"),
        ("unsub@example.com", "unsubscribed"),
        ("rejected@example.com", "rejected"),
    ]
    # No message id column: each row is its own message.
    assert all(r.message_id.startswith("row-") for r in records)
    assert len({r.message_id for r in records}) == 6


def test_it_reads_resend_webhooks() -> None:
    records = read(sample("resend_webhooks.ndjson"), "resend")
    assert [(r.recipient, r.event) for r in records] == [
        ("jane.doe@example.com", "sent"),
        ("jane.doe@example.com", "delivered"),
        ("gone@example.com", "bounced"),
        ("full@example.com", "deferred"),
        ("slow@example.com", "deferred"),
        ("jane.doe@example.com", "complained"),
    ]
    assert records[0].workflows == ("trial-nurture",)


def test_it_reads_mailersend_webhooks() -> None:
    assert events(sample("mailersend_webhooks.ndjson"), "mailersend") == [
        ("jane.doe@example.com", "sent"),
        ("jane.doe@example.com", "delivered"),
        ("gone@example.com", "bounced"),
        ("full@example.com", "deferred"),
        ("jane.doe@example.com", "complained"),
        ("jane.doe@example.com", "unsubscribed"),
    ]


def test_it_reads_postal_webhooks() -> None:
    assert events(sample("postal_webhooks.ndjson"), "postal") == [
        ("jane.doe@example.com", "delivered"),
        ("full@example.com", "deferred"),
        ("gone@example.com", "bounced"),
        ("listed@example.com", "deferred"),
        ("jane.doe@example.com", "clicked"),
    ]


def test_it_refuses_a_format_it_does_not_read_by_name() -> None:
    record = {"email": "a@example.com", "eventName": "emailSend", "createdAt": 1795179900000, "campaignId": 1}
    with pytest.raises(FormatError, match="looks like Iterable events, which Amends does not read yet"):
        detect_format(orjson.dumps(record) + b"\n")


def test_it_no_longer_takes_brevo_for_sendgrid() -> None:
    data = (CASES / "06-brevo-webhooks.ndjson").read_bytes()
    with pytest.raises(FormatError, match="looks like “Brevo"):
        read(data, "sendgrid_json")


def test_it_checks_that_every_event_of_every_format_is_an_anymail_event_type() -> None:
    for name, fmt in [
        ("brevo_webhooks.ndjson", "brevo"),
        ("mailjet_events.json", "mailjet"),
        ("sparkpost_webhooks.json", "sparkpost"),
        ("mandrill_webhooks.json", "mandrill"),
        ("resend_webhooks.ndjson", "resend"),
        ("mailersend_webhooks.ndjson", "mailersend"),
        ("postal_webhooks.ndjson", "postal"),
    ]:
        for record in read(sample(name), fmt):
            assert not isinstance(record, Rejected), (name, record)
            assert record.event in EventType.values


def case(name: str) -> bytes:
    return (CASES / name).read_bytes()


MAILGUN_FAILED = orjson.loads(case("05-mailgun-suppressed.json"))["items"][1]
WEBHOOK_PAYLOADS = [
    ("Postmark", orjson.loads(case("02-postmark-softbounce-webhook.json")), [("deferred", "ines.moreau@example.org")]),
    ("SendGrid", orjson.loads(case("04-sendgrid-blocked.json"))[1], [("deferred", "akira.sato@example.jp")]),
    (
        "Mailgun",
        {"signature": {}, "event-data": MAILGUN_FAILED},
        [("rejected", "lena.fischer@example.de"), ("unsubscribed", "lena.fischer@example.de")],
    ),
    (
        "Brevo",
        orjson.loads(case("06-brevo-webhooks.ndjson").splitlines()[3]),
        [("complained", "maria.lopez@example.es")],
    ),
]


@pytest.mark.parametrize(("esp_name", "payload", "expected"), WEBHOOK_PAYLOADS)
def test_it_reads_a_tracking_webhook_payload_like_the_import(esp_name, payload, expected) -> None:
    records = records_from_esp_event(esp_name, payload)

    assert [(r.event, r.recipient) for r in records] == expected


def test_it_reads_an_ses_suppressed_bounce_as_no_message_and_a_bounced_person() -> None:
    record = {
        "eventType": "Bounce",
        "mail": {"timestamp": "2026-11-20T13:05:00.000Z", "messageId": "ses-1", "destination": ["gone@example.com"]},
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "OnAccountSuppressionList",
            "bouncedRecipients": [{"emailAddress": "gone@example.com"}],
            "timestamp": "2026-11-20T13:05:01.000Z",
        },
    }

    records = read(orjson.dumps(record), "ses")

    assert [(r.event, r.message_id) for r in records] == [("rejected", "ses-1"), ("bounced", "")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": [1,2', "ends in the middle of the JSON"),
        (b'[{"email": "a@example.com", "event": "processed"', "ends in the middle of the JSON"),
        (b'{"email": "a@example.com", "event": }\n', "broken JSON"),
    ],
)
def test_it_says_a_file_is_broken_json_rather_than_an_unknown_format(data: bytes, reason: str) -> None:
    with pytest.raises(FormatError, match=f"This file is not valid JSON: .*{reason}.*record 1"):
        detect_format(data)
