"""The mock Mailgun API, driven by the real anymail Mailgun backend through Django's mail API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from anymail.exceptions import AnymailAPIError
from anymail.message import AnymailMessage
from django.core import mail

from tests.mock_esp import MockMailgun

FROM = "Amends <apologies@mg.example.com>"
UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"


def use(settings, mock: MockMailgun) -> None:
    for name, value in mock.settings().items():
        setattr(settings, name, value)


@pytest.fixture
def mock(settings) -> Iterator[MockMailgun]:
    with MockMailgun() as running:
        use(settings, running)
        yield running


def batch(people: dict[str, str]) -> AnymailMessage:
    """One apology to several people (address -> first name), personalised through recipient-variables."""
    message = AnymailMessage(
        subject="Sorry, %recipient.first_name%",
        body="Dear %recipient.first_name%, we got it wrong.",
        from_email=FROM,
        to=[f"{name} <{address}>" for address, name in people.items()],
        headers={"List-Unsubscribe-Post": UNSUBSCRIBE_POST},
    )
    message.attach_alternative("<p>Dear %recipient.first_name%</p>", "text/html")
    message.merge_data = {address: {"first_name": name} for address, name in people.items()}
    message.merge_metadata = {address: {"delivery_id": str(n)} for n, address in enumerate(people)}
    message.merge_headers = {
        address: {"List-Unsubscribe": f"<https://amends.test/u/{n}>"} for n, address in enumerate(people)
    }
    return message


def test_it_delivers_a_single_message_with_its_headers_and_metadata(mock: MockMailgun) -> None:
    message = AnymailMessage(
        subject="We are sorry",
        body="It will not happen again.",
        from_email=FROM,
        to=["Pat <pat@example.com>"],
        reply_to=["care@amends.test"],
        headers={"List-Unsubscribe": "<https://amends.test/u/1>", "List-Unsubscribe-Post": UNSUBSCRIBE_POST},
    )
    message.metadata = {"delivery_id": "17"}
    message.tags = ["apology"]

    assert message.send() == 1

    [received] = mock.received
    assert received.recipient == "pat@example.com"
    assert received.subject == "We are sorry"
    assert received.text == "It will not happen again."
    assert received.headers == {
        "Reply-To": "care@amends.test",
        "List-Unsubscribe": "<https://amends.test/u/1>",
        "List-Unsubscribe-Post": UNSUBSCRIBE_POST,
    }
    assert received.custom_data == {"delivery_id": "17"}
    assert received.tags == ["apology"]
    assert received.sender == FROM
    assert not received.all_recipients_visible
    assert received.message_id == message.anymail_status.message_id
    assert (mock.requests, mock.failures) == (1, 0)


def test_it_splits_a_batch_into_individual_personalised_messages(mock: MockMailgun) -> None:
    people = {"ann@example.com": "Ann", "bo@example.com": "Bo", "cy@example.com": "Cy"}
    message = batch(people)

    message.send()

    by_recipient = {r.recipient: r for r in mock.received}
    assert list(by_recipient) == ["ann@example.com", "bo@example.com", "cy@example.com"]
    for n, (address, name) in enumerate(people.items()):
        received = by_recipient[address]
        assert received.subject == f"Sorry, {name}"
        assert received.text == f"Dear {name}, we got it wrong."
        assert received.html == f"<p>Dear {name}</p>"
        assert received.headers["List-Unsubscribe"] == f"<https://amends.test/u/{n}>"
        assert received.headers["List-Unsubscribe-Post"] == UNSUBSCRIBE_POST
        assert received.custom_data == {"delivery_id": str(n)}
        assert received.variables["first_name"] == name
        assert not received.all_recipients_visible
    statuses = message.anymail_status.recipients
    assert set(statuses) == set(by_recipient)
    assert {status.message_id for status in statuses.values()} == {mock.received[0].message_id}
    assert mock.requests == 1
    assert mock.counts() == {"ann@example.com": 1, "bo@example.com": 1, "cy@example.com": 1}


def test_it_flags_a_plain_send_that_shows_every_recipient(mock: MockMailgun) -> None:
    mail.send_mail("Sorry", "Sorry to you all.", FROM, ["ann@example.com", "bo@example.com"])

    assert [r.all_recipients_visible for r in mock.received] == [True, True]


def test_it_leaves_unknown_placeholders_alone(mock: MockMailgun) -> None:
    message = batch({"ann@example.com": "Ann"})
    message.body = "Dear %recipient.first_name% %recipient.nickname%"

    message.send()

    assert mock.received[0].text == "Dear Ann %recipient.nickname%"


def test_it_fails_the_first_call_then_accepts_the_retry(settings) -> None:
    with MockMailgun(fail_first=1) as mock:
        use(settings, mock)

        with pytest.raises(AnymailAPIError) as failure:
            batch({"ann@example.com": "Ann"}).send()
        assert failure.value.status_code == 429
        assert failure.value.response.headers["Retry-After"] == "1"
        assert (mock.received, mock.requests, mock.failures) == ([], 0, 1)

        batch({"ann@example.com": "Ann"}).send()
        assert mock.counts() == {"ann@example.com": 1}
        assert mock.received[0].request_no == 2
        assert (mock.requests, mock.failures) == (1, 1)


def test_it_injects_the_same_failures_for_the_same_seed(settings) -> None:
    def outcomes() -> list[int]:
        with MockMailgun(fail_rate=0.5, seed=7) as mock:
            use(settings, mock)
            results = []
            for n in range(20):
                try:
                    mail.send_mail("Sorry", "Sorry.", FROM, [f"p{n}@example.com"])
                    results.append(200)
                except AnymailAPIError as err:
                    results.append(err.status_code)
            assert mock.requests + mock.failures == 20
            assert len(mock.received) == mock.requests
            return results

    first = outcomes()
    assert first == outcomes()
    assert {429, 500, 200} == set(first)


def test_it_rejects_a_wrong_api_key(mock: MockMailgun, settings) -> None:
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_API_KEY": "not-the-key"}

    with pytest.raises(AnymailAPIError) as failure:
        mail.send_mail("Sorry", "Sorry.", FROM, ["ann@example.com"])

    assert failure.value.status_code == 401
    assert requests.post(f"{mock.url}/{mock.domain}/messages", data={"to": "a@example.com"}).status_code == 401
    assert mock.received == []


def test_it_reports_an_unknown_sender_domain(mock: MockMailgun) -> None:
    message = AnymailMessage("Sorry", "Sorry.", FROM, ["ann@example.com"])
    message.esp_extra = {"sender_domain": "elsewhere.example.com"}

    with pytest.raises(AnymailAPIError, match="Unknown sender domain") as failure:
        message.send()

    assert failure.value.status_code == 404


@pytest.mark.parametrize("attachment", [False, True], ids=["form-urlencoded", "multipart"])
def test_it_keeps_non_ascii_names(mock: MockMailgun, attachment: bool) -> None:
    # anymail only switches to multipart/form-data when there is a file to upload.
    message = batch({"zoe@example.com": "Zoë Åström", "bo@example.com": "Bo"})
    message.subject = "Désolé, %recipient.first_name%"
    if attachment:
        message.attach("excuse.txt", "Entschuldigung für alles", "text/plain")

    message.send()

    assert [(r.recipient, r.subject) for r in mock.received] == [
        ("zoe@example.com", "Désolé, Zoë Åström"),
        ("bo@example.com", "Désolé, Bo"),
    ]


def test_it_refuses_more_than_a_thousand_recipients(mock: MockMailgun) -> None:
    message = AnymailMessage("Sorry", "Sorry.", FROM, [f"p{n}@example.com" for n in range(1001)])

    with pytest.raises(AnymailAPIError) as failure:
        message.send()

    assert failure.value.status_code == 400
    assert mock.received == []


def test_it_answers_health_checks(mock: MockMailgun) -> None:
    assert requests.get(mock.url.removesuffix("/v3") + "/health").status_code == 200
