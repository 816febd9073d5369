"""/healthz: database, cache, broker, a worker and the beat heartbeat; stale beyond three intervals."""

import time
from unittest import mock

import pytest

from config import health
from config.celery import app


@pytest.fixture
def worker_answers():
    with (
        mock.patch.object(app.control, "ping", return_value=[{"celery@w1": {"ok": "pong"}}]),
        mock.patch.object(health.Ping, "check_active_queues", return_value=None),
    ):
        yield


@pytest.fixture
def broker_up():
    with mock.patch.object(health.Broker, "run", return_value=None):
        yield


@pytest.fixture
def redis_broker(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"


@pytest.mark.django_db
def test_it_is_healthy_with_a_fresh_heartbeat(client, worker_answers, broker_up, redis_broker):
    health.heartbeat.delay()  # what beat sends and a worker runs
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body.values()) == {"OK"}
    assert any("BeatHeartbeat" in name for name in body)
    assert any("Ping" in name for name in body)


@pytest.mark.django_db
def test_it_reports_a_heartbeat_older_than_three_intervals(client, settings, worker_answers, broker_up):
    settings.HEARTBEAT_SECONDS = 60
    health.cache.set(health.HEARTBEAT_KEY, time.time() - 181)
    response = client.get("/healthz")
    assert response.status_code == 500
    assert any("beat or worker stopped" in value for value in response.json().values())
    health.cache.set(health.HEARTBEAT_KEY, time.time() - 170)
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_it_reports_no_heartbeat_and_no_worker(client, broker_up, redis_broker):
    health.cache.delete(health.HEARTBEAT_KEY)
    with mock.patch.object(app.control, "ping", return_value=[]):
        body = client.get("/healthz").json()
    assert "Unavailable: Celery workers unavailable" in body.values()
    assert any("No heartbeat yet" in value for value in body.values())


@pytest.mark.django_db
def test_it_reports_an_unreachable_broker(client, settings):
    with mock.patch.object(app, "connection_for_write", side_effect=OSError("refused")):
        response = client.get("/healthz/web")
    assert response.status_code == 500
    assert "Unavailable: Broker unreachable" in response.json().values()


@pytest.mark.django_db
def test_it_keeps_the_web_check_free_of_the_worker(client, broker_up):
    health.cache.delete(health.HEARTBEAT_KEY)
    response = client.get("/healthz/web")
    assert response.status_code == 200
    assert len(response.json()) == 3


def test_it_schedules_the_heartbeat_on_beat():
    entry = app.conf.beat_schedule["heartbeat"]
    assert entry["task"] == "config.health.heartbeat"
    assert health.heartbeat.name == entry["task"]
    assert health.heartbeat.time_limit == 30


@pytest.mark.django_db
def test_it_trusts_the_heartbeat_alone_on_the_development_queue(client, settings, broker_up):
    # `make run`'s folder queue cannot carry a ping's broadcast: /healthz was a 500 there with a worker running.
    settings.CELERY_BROKER_URL = "filesystem://"
    health.heartbeat.delay()
    with mock.patch.object(app.control, "ping", return_value=[]):
        response = client.get("/healthz")
    assert response.status_code == 200, response.content
    assert not any("Ping" in name for name in response.json())
