"""Tests for incidents.sendlogs, on samples shaped like each ESP's documented payloads.

They need no Django.  The project's root conftest.py imports Django models, so
on their own they run with: pytest incidents/sendlogs/tests/test_parsers.py -p no:django --noconftest
"""

import gzip
import io
import itertools
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.sendlogs import (
    FORMAT_LABELS,
    FORMATS,
    HEAD_SIZE,
    Event,
    FormatError,
    Rejected,
    csv_header,
    detect_format,
    open_log,
    parse,
)
from incidents.vocabulary import EventType

SAMPLES = Path(__file__).parent.parent / "samples"
GENERIC_MAPPING = {
    "recipient": "Recipient",
    "time": "Sent on",
    "event": "Status",
    "message_id": "Message",
    "workflow": "Journey",
}


def sample(name: str) -> bytes:
    """A sample file without the '#' lines at its top that say which doc it follows."""
    lines = (SAMPLES / name).read_bytes().splitlines(keepends=True)
    return b"".join(itertools.dropwhile(lambda line: line.startswith(b"#"), lines))


def read(data: bytes, fmt: str, **options: object) -> list[Event | Rejected]:
    return list(parse(open_log(io.BytesIO(data)), fmt, **options))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def sendgrid_lines() -> list[bytes]:
    return [orjson.dumps(record) for record in orjson.loads(sample("sendgrid_events.json"))]


# ---------------------------------------------------------------------------
# One documented-shaped sample per format


def test_it_reads_the_sendgrid_event_webhook_sample() -> None:
    records = read(sample("sendgrid_events.json"), "sendgrid_json")

    assert records[0] == Event(
        recipient="jane.doe@example.com",
        recipient_raw="  Jane.Doe@Example.COM ",
        occurred_at=utc(2017, 12, 15, 0, 59, 29),
        event="queued",
        message_id="14c5d75ce93.dfd.64b469",
        workflows=("cat facts",),
        esp_event_id="rbtnWrG1DVDGGGFHFyun0A==",
        detail="",
        ref=1,
    )
    assert [r.event for r in records] == [
        "queued",
        "delivered",
        "opened",
        "clicked",
        "deferred",
        "bounced",
        "deferred",
        "bounced",
        "rejected",
        "complained",
        "unsubscribed",
        "unsubscribed",
        "subscribed",
        "queued",
    ]
    assert [r.ref for r in records] == list(range(1, 15))
    assert records[3].workflows == ("cat facts", "newsletter")
    assert (records[4].detail, records[5].detail, records[6].detail) == (
        "400 try again later",
        "hard: 500 unknown recipient",
        "blocked: 500 unknown recipient",
    )
    assert records[-1].workflows == ("23314", "unique args ab")
    assert records[-1].message_id == "5lFl7Fr1Rjme_EyzNNB_5A"


def test_it_gives_every_event_of_a_sendgrid_message_the_same_id() -> None:
    records = read(sample("sendgrid_events.json"), "sendgrid_json")

    jane = {r.event: r.message_id for r in records if r.recipient == "jane.doe@example.com"}
    assert set(jane) >= {"queued", "delivered", "opened", "clicked"}
    assert set(jane.values()) == {"14c5d75ce93.dfd.64b469"}
    # An asynchronous bounce has no sg_message_id; its smtp-id gives the same id.
    dave = next(r for r in records if r.recipient == "dave@example.com")
    assert dave.message_id == "14c5d75ce96.dfd.64b469"


def test_it_reads_sendgrid_ndjson_and_one_object_per_line_arrays_like_the_pretty_array() -> None:
    pretty = read(sample("sendgrid_events.json"), "sendgrid_json")
    lines = sendgrid_lines()

    ndjson = read(b"\n".join(lines) + b"\n", "sendgrid_json")
    one_per_line = read(b"[\n" + b",\n".join(lines) + b"\n]\n", "sendgrid_json")

    assert ndjson == pretty
    assert one_per_line == pretty


def test_it_reads_ses_firehose_records() -> None:
    records = read(sample("ses_firehose.ndjson"), "ses")

    assert all(isinstance(r, Event) for r in records)
    assert records[0] == Event(
        recipient="jane.doe@example.com",
        recipient_raw="  Jane.Doe@Example.COM ",
        occurred_at=utc(2016, 10, 14, 5, 2, 16, 645000),
        event="sent",
        message_id="EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        workflows=("ConfigSet", "myCustomTagValue1", "myCustomTagValue2"),
        esp_event_id="",
        detail="",
        ref=1,
    )
    by_ref = {r.ref: r for r in records}
    assert [(by_ref[n].event, by_ref[n].recipient) for n in range(1, 12)] == [
        ("sent", "jane.doe@example.com"),
        ("delivered", "jane.doe@example.com"),
        ("opened", "jane.doe@example.com"),  # from "Jane Doe <jane.doe@example.com>"
        ("clicked", "jane.doe@example.com"),
        ("bounced", "recipient@example.com"),
        ("deferred", "full@example.com"),  # Transient bounce
        ("complained", "recipient@example.com"),
        ("deferred", "slow@example.com"),  # DeliveryDelay
        ("rejected", "virus@example.com"),  # Reject
        ("failed", "template@example.com"),  # Rendering Failure
        ("unsubscribed", "leaver@example.com"),  # Subscription, unsubscribeAll
    ]
    # Each event's own timestamp, not the send time in mail.timestamp.
    assert by_ref[2].occurred_at == utc(2016, 10, 14, 5, 2, 28, 133000)
    assert by_ref[3].occurred_at == utc(2016, 10, 14, 6, 0, 19, 652000)
    assert (by_ref[5].detail, by_ref[6].detail) == ("hard: smtp; 550 5.1.1 user unknown", "soft: MailboxFull")
    assert len({r.message_id for r in records if r.recipient == "jane.doe@example.com"}) == 1


def test_it_unwraps_sns_notifications_around_ses_events() -> None:
    records = read(sample("ses_sns.json"), "ses")

    assert records == [
        Rejected(1, "SNS message of type 'SubscriptionConfirmation' is not an email event"),
        Event(
            recipient="recipient@example.com",
            recipient_raw="recipient@example.com",
            occurred_at=utc(2017, 8, 5, 0, 41, 2, 669000),
            event="bounced",
            message_id="EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            workflows=(),
            esp_event_id="",
            detail="hard: smtp; 550 5.1.1 user unknown",
            ref=2,
        ),
        Event(
            recipient="jane.doe@example.com",
            recipient_raw="  Jane.Doe@Example.COM ",
            occurred_at=utc(2016, 10, 19, 23, 21, 4, 133000),
            event="delivered",
            message_id="EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            workflows=("ConfigSet", "myCustomTagValue1"),
            esp_event_id="",
            detail="",
            ref=3,
        ),
    ]


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        ({"unsubscribeAll": True}, {"unsubscribeAll": False}, "unsubscribed"),
        ({"unsubscribeAll": False}, {"unsubscribeAll": True}, "subscribed"),
        (
            {"topicSubscriptionStatus": [{"topicName": "News", "subscriptionStatus": "OptIn"}]},
            {"topicSubscriptionStatus": [{"topicName": "News", "subscriptionStatus": "OptOut"}]},
            "subscribed",
        ),
        (
            {"topicSubscriptionStatus": [{"topicName": "News", "subscriptionStatus": "OptOut"}]},
            {"topicSubscriptionStatus": [{"topicName": "News", "subscriptionStatus": "OptIn"}]},
            "unsubscribed",
        ),
    ],
)
def test_it_maps_ses_subscription_preferences(new: dict, old: dict, expected: str) -> None:
    record = {
        "eventType": "Subscription",
        "mail": {"timestamp": "2022-01-12T01:00:14.340Z", "messageId": "m", "destination": ["a@example.com"]},
        "subscription": {
            "timestamp": "2022-01-12T01:00:17.910Z",
            "newTopicPreferences": new,
            "oldTopicPreferences": old,
        },
    }

    [event] = read(orjson.dumps(record), "ses")

    assert event.event == expected


def test_it_streams_a_mailgun_events_page() -> None:
    records = read(sample("mailgun_events.json"), "mailgun")

    assert records[0] == Event(
        recipient="jane.doe@example.com",
        recipient_raw="  Jane.Doe@Example.COM ",
        occurred_at=utc(2013, 8, 22, 22, 40, 56, 96436),
        event="queued",
        message_id="20130822215151.29325.59996@samples.mailgun.org",
        workflows=("welcome-series", "welcome"),
        esp_event_id="CCXMjJ7nQi2N3BPigGOdgQ",
        detail="",
        ref=1,
    )
    assert [(r.ref, getattr(r, "event", None)) for r in records] == [
        (1, "queued"),
        (2, "delivered"),
        (3, "bounced"),
        (4, "deferred"),
        (5, "opened"),
        (6, "unsubscribed"),
        (7, None),
    ]
    assert records[-1] == Rejected(7, "event type 'stored' not used")
    assert (records[2].detail, records[3].detail) == ("hard: Relay Not Permitted", "soft: No MX for [example.com]")
    assert records[2].workflows == ("c1",)
    # "<...>" around the Message-ID is dropped, so accepted/delivered/opened match.
    assert {r.message_id for r in records[:6] if r.recipient == "jane.doe@example.com"} == {
        "20130822215151.29325.59996@samples.mailgun.org"
    }


def test_it_reads_mailgun_webhook_payloads() -> None:
    records = read(sample("mailgun_webhooks.ndjson"), "mailgun")

    assert [(r.ref, r.event, r.recipient) for r in records] == [
        (1, "delivered", "recipient@sample.mailgun.com"),
        (2, "rejected", "gone@example.com"),
        (2, "bounced", "gone@example.com"),
        (3, "complained", "recipient@sample.mailgun.com"),
    ]
    assert records[1].detail == "suppress-bounce: Not delivering to previously bounced address"
    assert records[2].message_id == ""  # the person's state, not a message
    assert records[1].workflows == ("webhook_payload", "winback")
    assert records[0].esp_event_id == "MXcc2gEpS-eN8HfkOnmK2w"
    assert records[0].occurred_at == utc(2026, 2, 3, 19, 20, 31, 658528)


def test_it_reads_postmark_webhooks() -> None:
    records = read(sample("postmark_webhooks.json"), "postmark")

    assert records[0] == Event(
        recipient="jane.doe@example.com",
        recipient_raw="  Jane.Doe@Example.COM ",
        occurred_at=utc(2019, 11, 5, 16, 33, 54, 907025),  # "…54.9070259Z": 7 digits
        event="delivered",
        message_id="883953f4-6105-42a2-a16a-77a8eac79483",
        workflows=("welcome-email", "value", "outbound"),
        esp_event_id="",
        detail="",
        ref=1,
    )
    assert [getattr(r, "event", None) for r in records] == [
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "deferred",
        "autoresponded",
        "complained",
        "unsubscribed",
        "subscribed",
    ]
    assert records[1].occurred_at == utc(2019, 11, 5, 17, 40, 0, 123456)  # "-05:00" offset
    assert records[3].occurred_at == utc(2014, 1, 15, 21, 9, 19, 642111)
    assert (records[3].detail, records[3].esp_event_id) == ("hard: Test bounce details", "4323372036854775807")
    assert records[4].detail == "soft: smtp;452 4.2.2 Mailbox full"
    assert records[5].event == "autoresponded"
    assert records[8].message_id == ""  # null MessageID of a manual reactivation


@pytest.mark.parametrize(
    ("suppress", "reason", "expected"),
    [
        (True, "HardBounce", "bounced"),
        (True, "SpamComplaint", "complained"),
        (True, "ManualSuppression", "unsubscribed"),
        (False, "ManualSuppression", "subscribed"),
    ],
)
def test_it_maps_postmark_subscription_changes(suppress: bool, reason: str, expected: str) -> None:
    record = {
        "RecordType": "SubscriptionChange",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "MessageStream": "broadcast",
        "ChangedAt": "2020-02-01T10:53:34.416071Z",
        "Recipient": "john@example.com",
        "Origin": "Recipient",
        "SuppressSending": suppress,
        "SuppressionReason": reason,
    }

    [event] = read(orjson.dumps(record), "postmark")

    assert event.event == expected


def test_it_reads_a_sendgrid_activity_export() -> None:
    records = read(sample("sendgrid_activity.csv"), "sendgrid_csv")

    assert records[0] == Event(
        recipient="jane.doe@example.com",
        recipient_raw="  Jane.Doe@Example.COM ",
        occurred_at=utc(2024, 3, 5, 9, 15, 2),
        event="queued",
        message_id="fMnBvAx2Tw2ugM1xi9ESYw",
        workflows=("d-123", "trial", "nurture"),
        esp_event_id="",
        detail="",
        ref=2,
    )
    assert [(r.ref, r.event) for r in records] == [
        (2, "queued"),
        (3, "delivered"),
        (4, "opened"),
        (5, "bounced"),
        (6, "complained"),
    ]
    assert len({r.message_id for r in records[:3]}) == 1
    assert records[3].detail == "hard: 550 5.1.1 The email account that you tried to reach does not exist"
    assert records[4].workflows == ("9911", "Spring sale 2024")


def test_it_reads_a_semicolon_csv_with_a_date_format() -> None:
    records = read(sample("generic.csv"), "csv", mapping=GENERIC_MAPPING, delimiter=";", date_format="%d/%m/%Y %H:%M")

    assert records == [
        Event(
            "jane.doe@example.com",
            "  Jane.Doe@Example.COM ",
            utc(2024, 3, 5, 9, 15),
            "sent",
            "m-1",
            ("Trial reminder",),
            "",
            "",
            2,
        ),
        Event(
            "jane.doe@example.com",
            "jane.doe@example.com",
            utc(2024, 3, 5, 9, 16),
            "delivered",
            "m-1",
            ("Trial reminder",),
            "",
            "",
            3,
        ),
        Event(
            "bob@example.com",
            "bob@example.com",
            utc(2024, 3, 5, 9, 17),
            "bounced",
            "m-2",
            ("Trial reminder",),
            "",
            "hard",
            4,
        ),
        Rejected(5, "no recipient address in column 'Recipient'"),
        Rejected(6, "unparseable time 'yesterday' in column 'Sent on'"),
        Event(
            "dave@example.com",
            "dave@example.com",
            utc(2024, 3, 6, 10, 0),
            "complained",
            "m-5",
            ("Trial reminder",),
            "",
            "",
            7,
        ),
    ]


def test_it_sniffs_the_delimiter_and_calls_every_row_sent_without_an_event_column() -> None:
    data = sample("generic.csv")
    mapping = {"recipient": "Recipient", "time": "Sent on"}

    records = read(data, "csv", mapping=mapping, date_format="%d/%m/%Y %H:%M")

    assert [r.event for r in records if isinstance(r, Event)] == ["sent"] * 4


def test_it_reads_unix_seconds_milliseconds_and_iso_times_when_the_format_is_auto() -> None:
    data = (
        b"email,time\n"
        b"a@example.com,1709630102\n"
        b"a@example.com,1709630102000\n"
        b"a@example.com,1709630102.5\n"
        b"a@example.com,2024-03-05T09:15:02Z\n"
        b"a@example.com,2024-03-05T10:15:02+01:00\n"
        b"a@example.com,2024-03-05 09:15:02\n"
        b"a@example.com,2024-03-05T09:15:02.1234567Z\n"
    )

    records = read(data, "csv", mapping={"recipient": "email", "time": "time"}, date_format="auto")

    moment = utc(2024, 3, 5, 9, 15, 2)
    assert [r.occurred_at for r in records] == [
        moment,
        moment,
        utc(2024, 3, 5, 9, 15, 2, 500000),
        moment,
        moment,
        moment,
        utc(2024, 3, 5, 9, 15, 2, 123456),
    ]


# ---------------------------------------------------------------------------
# Compression, detection, preview


def test_it_reads_gzip_compressed_logs() -> None:
    plain = sample("ses_firehose.ndjson")
    packed = gzip.compress(plain)

    assert detect_format(open_log(io.BytesIO(packed)).peek(HEAD_SIZE)) == "ses"
    assert read(packed, "ses") == read(plain, "ses")
    # parse() also accepts a file that did not go through open_log().
    assert list(parse(io.BytesIO(packed), "ses")) == read(plain, "ses")


def test_it_keeps_what_it_read_from_a_damaged_gzip_file() -> None:
    lines = sendgrid_lines() * 200
    packed = gzip.compress(b"\n".join(lines) + b"\n")

    records = read(packed[: len(packed) // 2], "sendgrid_json")

    assert all(isinstance(r, Event) for r in records[:-1])
    assert len(records) > 100
    assert records[-1] == Rejected(
        records[-2].ref + 1, "the compressed file is damaged or cut short; the rest could not be read"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sendgrid_events.json", "sendgrid_json"),
        ("ses_firehose.ndjson", "ses"),
        ("ses_sns.json", "ses"),
        ("mailgun_events.json", "mailgun"),
        ("mailgun_webhooks.ndjson", "mailgun"),
        ("postmark_webhooks.json", "postmark"),
        ("sendgrid_activity.csv", "sendgrid_csv"),
        ("generic.csv", "csv"),
    ],
)
def test_it_detects_each_format(name: str, expected: str) -> None:
    assert detect_format(sample(name)) == expected
    assert detect_format(gzip.decompress(gzip.compress(sample(name)))[:200]) == expected


def test_it_detects_sendgrid_ndjson() -> None:
    assert detect_format(b"\n".join(sendgrid_lines())) == "sendgrid_json"


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"", "The file is empty."),
        (b"PK\x03\x04\x14\x00\x06\x00", "not a text file"),
        (b'[{"name": "Jane", "age": 40}]', "not a send log Amends recognises"),
        (b"just some words\nand more words\n", "not a send log Amends recognises"),
    ],
)
def test_it_refuses_files_it_does_not_recognise(head: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        detect_format(head)


def test_it_previews_the_csv_header_and_first_rows() -> None:
    header, rows = csv_header(open_log(io.BytesIO(sample("generic.csv"))))

    assert header == ["Recipient", "Sent on", "Status", "Message", "Journey"]
    assert len(rows) == 6
    assert rows[0] == ["Jane.Doe@Example.COM", "05/03/2024 09:15", "Sent", "m-1", "Trial reminder"]


def test_it_previews_at_most_ten_rows_of_a_tab_separated_file() -> None:
    data = b"email\tdate\n" + b"".join(b"a%d@example.com\t2024-01-01\n" % n for n in range(30))

    header, rows = csv_header(io.BytesIO(data))

    assert header == ["email", "date"]
    assert len(rows) == 10


def test_it_leaves_the_callers_file_open() -> None:
    upload = io.BytesIO(sample("ses_firehose.ndjson"))

    list(parse(open_log(upload), "ses"))

    assert not upload.closed


def test_it_labels_every_format() -> None:
    assert set(FORMAT_LABELS) == set(FORMATS)


# ---------------------------------------------------------------------------
# Bad records, wrong formats, broken files


def test_it_rejects_bad_records_and_keeps_the_good_ones() -> None:
    data = b"\n".join(
        [
            b'{"email": "a@example.com", "timestamp": 1513299569, "event": "processed", "sg_event_id": "e1"}',
            b'{"email": "a@example.com", "timestamp": 1513299569, "event": "processed"',
            b"",
            b'{"timestamp": 1513299569, "event": "processed"}',
            b'{"email": "b@example.com", "timestamp": "yesterday", "event": "delivered"}',
            b'{"email": "c@example.com", "timestamp": 1513299569, "event": "account_status_change"}',
            b'{"email": "not an email address", "timestamp": 1513299569, "event": "rejected"}',
            b'{"email": "d@example.com", "timestamp": 1513299569, "event": "delivered", "sg_event_id": "e8"}',
        ]
    )

    records = read(data, "sendgrid_json")

    assert [(type(r).__name__, r.ref) for r in records] == [
        ("Event", 1),
        ("Rejected", 2),
        ("Rejected", 4),
        ("Rejected", 5),
        ("Rejected", 6),
        ("Rejected", 7),
        ("Event", 8),
    ]
    assert records[1].reason.startswith("broken JSON: ")
    assert [r.reason for r in records[2:6]] == [
        "no recipient address in field 'email'",
        "unparseable time 'yesterday' in field 'timestamp'",
        "event type 'account_status_change' not used",
        "recipient 'not an email address' in field 'email' is not an email address",
    ]


@pytest.mark.parametrize(
    ("name", "fmt", "message"),
    [
        ("sendgrid_activity.csv", "ses", "looks like “SendGrid Email Activity export"),
        ("mailgun_events.json", "postmark", "looks like “Mailgun events or webhooks"),
        ("ses_firehose.ndjson", "sendgrid_json", "looks like “Amazon SES events"),
        ("sendgrid_events.json", "csv", "looks like “SendGrid Event Webhook"),
        ("generic.csv", "sendgrid_csv", "no processed column"),
    ],
)
def test_it_raises_a_clear_format_error_for_the_wrong_format(name: str, fmt: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read(sample(name), fmt, mapping=GENERIC_MAPPING)


def test_it_stops_where_a_pretty_printed_json_array_is_cut_short() -> None:
    data = sample("sendgrid_events.json")
    cut = data[: data.index(b'"event":"deferred"')]

    records = read(cut, "sendgrid_json")

    assert [r.event for r in records[:-1]] == ["queued", "delivered", "opened", "clicked"]
    assert records[-1] == Rejected(
        5, "the file ends in the middle of the JSON after record 4; it may have been cut short"
    )


def test_it_stops_where_a_one_object_per_line_array_is_cut_short() -> None:
    lines = sendgrid_lines()
    cut = b"[\n" + b",\n".join(lines[:4]) + b",\n" + lines[4][:40]

    records = read(cut, "sendgrid_json")

    assert [r.event for r in records[:-1]] == ["queued", "delivered", "opened", "clicked"]
    assert records[-1] == Rejected(
        5, "the file ends in the middle of the JSON after record 4; it may have been cut short"
    )


def test_it_notices_a_json_array_that_never_closes() -> None:
    lines = sendgrid_lines()

    records = read(b"[\n" + b",\n".join(lines[:3]) + b",\n", "sendgrid_json")

    assert len(records) == 4
    assert records[-1].reason.startswith("the file ends in the middle of the JSON after record 3")


def test_it_names_the_missing_mapped_columns() -> None:
    mapping = {"recipient": "Email", "time": "Date", "event": "Status"}

    with pytest.raises(FormatError, match="no columns “Email”, “Date”"):
        read(sample("generic.csv"), "csv", mapping=mapping, delimiter=";")


def test_it_asks_for_a_mapping_for_other_csv_files() -> None:
    with pytest.raises(FormatError, match="recipient and the time"):
        read(sample("generic.csv"), "csv")


# ---------------------------------------------------------------------------
# Whatever is thrown at it, only Events, Rejected or FormatError come out

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
field_names = st.sampled_from(
    [
        "email",
        "event",
        "timestamp",
        "category",
        "sg_message_id",
        "smtp-id",
        "eventType",
        "notificationType",
        "mail",
        "bounce",
        "Type",
        "Message",
        "recipient",
        "event-data",
        "items",
        "severity",
        "RecordType",
        "Recipient",
        "Email",
        "BouncedAt",
        "SuppressSending",
    ]
)
records = st.dictionaries(field_names, json_values, max_size=6)
lines = st.one_of(
    records.map(orjson.dumps),
    json_values.map(orjson.dumps),
    st.binary(max_size=40),
    st.text(max_size=40).map(str.encode),
)


def only_events_or_rejections(data: bytes, fmt: str, **options: object) -> None:
    try:
        results = read(data, fmt, **options)
    except FormatError:
        return
    for result in results:
        assert isinstance(result, Event | Rejected)
        if isinstance(result, Event):
            assert "@" in result.recipient
            assert result.event in EventType.values
            assert result.occurred_at.utcoffset().total_seconds() == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(lines, max_size=8), st.sampled_from(["sendgrid_json", "ses", "mailgun", "postmark"]))
def test_it_turns_ndjson_garbage_into_rejections(garbage: list[bytes], fmt: str) -> None:
    only_events_or_rejections(b"\n".join(garbage), fmt)


@settings(max_examples=100, deadline=None)
@given(st.lists(lines, max_size=8), st.sampled_from(["sendgrid_json", "ses", "mailgun", "postmark"]))
def test_it_turns_json_array_garbage_into_rejections(garbage: list[bytes], fmt: str) -> None:
    only_events_or_rejections(b"[\n" + b",\n".join(garbage) + b"\n]", fmt)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=8))
def test_it_turns_csv_garbage_into_rejections(rows: list[str]) -> None:
    data = ("email,time,event\n" + "\n".join(rows)).encode()
    only_events_or_rejections(data, "csv", mapping={"recipient": "email", "time": "time", "event": "event"})
    only_events_or_rejections(data, "sendgrid_csv")
