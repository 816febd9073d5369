"""Liveness checks for /healthz: broker, worker and beat heartbeat, beside django-health-check's database and cache."""

from __future__ import annotations

import dataclasses
import datetime
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

from config.celery import app

HEARTBEAT_KEY = "amends:beat-heartbeat"


def heartbeat_write() -> None:
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def heartbeat_age() -> float | None:
    """Seconds since a worker last ran the beat-scheduled heartbeat, or None if it never did."""
    stamp = cache.get(HEARTBEAT_KEY)
    return None if stamp is None else max(0.0, time.time() - float(stamp))


@shared_task(name="config.health.heartbeat", time_limit=30, soft_time_limit=20, ignore_result=True)
def heartbeat() -> None:
    """Sent by beat, run by a worker: a fresh stamp proves both are alive. Idempotent: it only overwrites."""
    heartbeat_write()


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection."""

    timeout = datetime.timedelta(seconds=3)

    def run(self) -> None:
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=self.timeout.total_seconds())
        except Exception as exc:  # kombu raises transport-specific errors
            raise ServiceUnavailable("Broker unreachable") from exc


@dataclasses.dataclass
class BeatHeartbeat(HealthCheck):
    """The beat schedule sent the heartbeat and a worker ran it within the last three intervals."""

    def run(self) -> None:
        age = heartbeat_age()
        limit = 3 * settings.HEARTBEAT_SECONDS
        if age is None:
            raise ServiceUnavailable("No heartbeat yet: is celery beat running, with a worker?")
        if age > limit:
            raise ServiceUnavailable(f"Heartbeat is {age:.0f} s old (more than {limit} s): beat or worker stopped")


class HealthzView(HealthCheckView):
    """Everything: what the web needs, plus a live worker and beat. Answers JSON (500 when anything fails)."""

    checks = (Database, Cache, Broker, (Ping, {"timeout": datetime.timedelta(seconds=2)}), BeatHeartbeat)

    def get_checks(self):
        for check in super().get_checks():
            # The development queue (a folder) cannot broadcast, so no worker can answer a ping through it; the
            # heartbeat, sent by beat and run by a worker, still proves one is alive.
            if isinstance(check, Ping) and settings.CELERY_BROKER_URL.startswith("filesystem://"):
                continue
            yield check

    def render_to_response(self, context, **kwargs):
        return self.render_to_response_json(kwargs.get("status", 200))


class WebHealthzView(HealthzView):
    """What a web process needs to serve pages and enqueue tasks; the web container's health check."""

    checks = (Database, Cache, Broker)
