"""The production shape: Celery workers on Redis, PostgreSQL, the real anymail Mailgun backend and a mock ESP.

These prove the rule that outranks the rest: every person gets the apology exactly once, or is flagged
for review, never twice: across two workers, worker kills, ESP errors, pause and resume.
"""

import signal
import time

import pytest

from apologies.campaigns import lifecycle, planning
from apologies.models import Campaign, Delivery
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from config.celery import app as celery_app
from conftest import start_worker, stop_worker
from tests.mock_esp import MockMailgun

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def esp():
    with MockMailgun(delay=0.02) as mock:
        yield mock


@pytest.fixture
def workers(needs_postgres, needs_redis, settings, esp):
    """Starts worker processes that send through the mock ESP; stops them all at the end."""
    celery_app.conf.task_always_eager = False
    procs: list = []
    redis = needs_redis.rsplit("/", 1)[0]
    env = {
        "EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend",
        "MAILGUN_API_KEY": "mock-key",
        "MAILGUN_API_URL": esp.url,
        "MAILGUN_SENDER_DOMAIN": "mg.example.com",
        "CACHE_URL": f"{redis}/14",
        "AMENDS_SEND_STALE_SECONDS": "3",
        "AMENDS_RETRY_BACKOFF_SECONDS": "0.2",
        "AMENDS_SEND_MAX_ATTEMPTS": "30",
    }

    def start(n: int = 1) -> None:
        for _ in range(n):
            procs.append(start_worker(settings, **env))

    yield start, procs
    celery_app.conf.task_always_eager = True
    for proc in procs:
        stop_worker(proc)


def approved(marketer, approver, people: int, **fields) -> Campaign:
    incident = IncidentFactory()
    for i in range(people):
        person(incident, f"p{i:05d}@example.com", messages=1 + i % 70)
    contact("p00001@example.com", first_name="Zoë")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer, **fields)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    return campaign


def wait_until(check, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def status(campaign: Campaign) -> str:
    return Campaign.objects.get(id=campaign.id).status


def assert_once_or_review(campaign: Campaign, esp: MockMailgun, people: int) -> dict:
    counts = esp.counts()
    twice = {email: n for email, n in counts.items() if n > 1}
    assert not twice, f"sent twice: {twice}"
    rows = dict(Delivery.objects.filter(campaign=campaign).values_list("email", "status"))
    assert len(rows) == people
    for email, row_status in rows.items():
        if counts.get(email):
            assert row_status in ("sent", "review"), (email, row_status)
        else:
            assert row_status == "review", (email, row_status)
    return {s: list(rows.values()).count(s) for s in set(rows.values())}


def test_it_sends_a_campaign_once_with_two_workers(workers, esp, marketer, approver):
    start, _ = workers
    start(2)
    campaign = approved(marketer, approver, 2000, rate_per_second=500)
    sending.campaign_start(campaign=campaign, user=marketer)
    wait_until(lambda: status(campaign) == "completed", what="completion")
    assert esp.counts() == {f"p{i:05d}@example.com": 1 for i in range(2000)}
    assert Delivery.objects.filter(campaign=campaign, status="sent").count() == 2000
    zoe = next(r for r in esp.received if r.recipient == "p00001@example.com")
    assert zoe.text.startswith("Hi Zoë,")


def test_it_never_sends_twice_when_workers_are_killed(workers, esp, marketer, approver):
    start, procs = workers
    esp.delay = 0.2  # long enough that a kill often lands while a batch is with the ESP
    start(1)
    campaign = approved(marketer, approver, 2000, rate_per_second=100)
    sending.campaign_start(campaign=campaign, user=marketer)
    for at in (150, 700, 1300):
        wait_until(lambda at=at: len(esp.received) >= at, what=f"{at} received")
        procs[-1].send_signal(signal.SIGKILL)
        procs[-1].wait()
        start(1)
    wait_until(lambda: status(campaign) == "completed", timeout=180, what="completion")
    outcome = assert_once_or_review(campaign, esp, 2000)
    print(f"after 3 kills: {outcome}, received by the ESP: {len(esp.received)}")
    assert outcome.get("sent", 0) >= 1500


def test_it_sends_everyone_once_when_the_esp_fails_part_of_the_time(workers, esp, marketer, approver):
    start, _ = workers
    esp.fail_rate = 0.3
    start(2)
    campaign = approved(marketer, approver, 2000, rate_per_second=250, pause_after_errors=100)
    sending.campaign_start(campaign=campaign, user=marketer)
    wait_until(lambda: status(campaign) == "completed", what="completion")
    assert esp.failures > 0
    assert esp.counts() == {f"p{i:05d}@example.com": 1 for i in range(2000)}


def test_it_stops_within_seconds_on_pause_and_resumes_without_duplicates(workers, esp, marketer, approver):
    start, _ = workers
    start(2)
    campaign = approved(marketer, approver, 2000, rate_per_second=100)
    sending.campaign_start(campaign=campaign, user=marketer)
    wait_until(lambda: len(esp.received) >= 300, what="300 received")
    paused_at = time.monotonic()
    sending.campaign_pause(campaign=Campaign.objects.get(id=campaign.id), user=approver, reason="test")
    time.sleep(2)
    settled = len(esp.received)
    time.sleep(2)
    assert len(esp.received) == settled, "still sending 2 s after the pause"
    assert settled < 2000
    assert time.monotonic() - paused_at < 10
    sending.campaign_resume(campaign=Campaign.objects.get(id=campaign.id), user=approver)
    wait_until(lambda: status(campaign) == "completed", what="completion")
    assert esp.counts() == {f"p{i:05d}@example.com": 1 for i in range(2000)}
