"""Fixtures shared by every test: roles, logged-in clients, services the run depends on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import Group, User

from config.celery import app as celery_app
from config.celery import worker_command

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(autouse=True, scope="session")
def _eager_tasks():
    # Tasks run in-process unless a test starts a real worker.
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username, f"{username}@example.org", "pw")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def marketer(db) -> User:
    return make_user("maya", "marketer")


@pytest.fixture
def approver(db) -> User:
    return make_user("ana", "approver")


@pytest.fixture
def viewer(db) -> User:
    return make_user("victor", "viewer")


@pytest.fixture
def marketer_client(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def service_needed(name: str, configured: bool, reachable: bool) -> None:
    """Skip a test meant for another run; in CI an unreachable service fails the test instead."""
    if not configured:
        pytest.skip(f"{name} is not configured for this run")
    if not reachable:
        if IN_CI:
            pytest.fail(f"{name} is configured but not reachable")
        pytest.skip(f"{name} is not reachable")


def reachable(url: str, default_port: int) -> bool:
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def needs_postgres():
    from django.db import connection

    service_needed("PostgreSQL", connection.vendor == "postgresql", True)


@pytest.fixture
def needs_redis():
    url = os.environ.get("CELERY_BROKER_URL", "")
    service_needed("Redis", url.startswith("redis://"), reachable(url, 6379) if url else False)
    return url


ROOT = Path(__file__).resolve().parent


def start_worker(settings, **env: str) -> subprocess.Popen:
    """A real Celery worker process on the test database (the test must use transactional_db)."""
    from django.db import connection

    db = connection.settings_dict
    environ = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        CONN_MAX_AGE="0",
        **env,
    )
    return subprocess.Popen(worker_command(), cwd=ROOT, env=environ)


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
