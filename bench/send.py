"""Send benchmark: a 20,000-person campaign through the real path (Celery workers on Redis, PostgreSQL,
anymail's Mailgun backend) to a mock Mailgun on 127.0.0.1, once through the batch API and once with one
message per API call, in the same run.

    .venv/bin/python bench/send.py [--people N] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/amends_bench")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)


def workers(n: int, env: dict) -> list[subprocess.Popen]:
    from config.celery import worker_command

    return [
        subprocess.Popen(
            worker_command(),
            cwd=ROOT,
            env={**os.environ, **env},
        )
        for _ in range(n)
    ]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def run(label: str, people: int, n_workers: int, esp, env: dict, rate: int) -> tuple[float, int, int]:
    """Send one fresh campaign; returns (emails/s, duplicates, lost)."""
    from django.contrib.auth.models import Group, User

    from apologies.campaigns import lifecycle, planning
    from apologies.models import Campaign, Delivery
    from apologies.sending import services as sending
    from incidents.models import AffectedPerson, Incident

    marketer, _ = User.objects.get_or_create(username="bench-marketer")
    marketer.groups.add(Group.objects.get(name="marketer"))
    approver, _ = User.objects.get_or_create(username="bench-approver")
    approver.groups.add(Group.objects.get(name="approver"))
    start = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    incident = Incident.objects.create(title=f"bench send {label}", started_at=start, workflows=["wf"])
    AffectedPerson.objects.bulk_create(
        [
            AffectedPerson(
                incident=incident,
                email=f"{label}{i:06d}@example.com",
                messages=1 + i % 70,
                first_at=start,
                last_at=start + timedelta(minutes=5),
                max_in_10_min=1 + i % 25,
                state="subscribed",
                tier=incident.tier_for(1 + i % 70),
            )
            for i in range(people)
        ],
        batch_size=5000,
    )
    campaign = planning.campaign_create(incident=incident, name="bench", author=marketer, rate_per_second=rate)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    esp.reset()
    procs = workers(n_workers, env)
    time.sleep(3)  # let the workers connect before the clock starts
    try:
        started = time.perf_counter()
        sending.campaign_start(campaign=campaign, user=marketer)
        while Campaign.objects.get(id=campaign.id).status != "completed":
            if time.perf_counter() - started > 900:
                raise SystemExit(f"{label}: not completed after 900 s")
            time.sleep(0.1)
        seconds = time.perf_counter() - started
    finally:
        stop(procs)
    counts = esp.counts()
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    review = Delivery.objects.filter(campaign=campaign, status="review").count()
    lost = people - len(counts) - review
    per_s = people / seconds
    print(
        f"{label}: {people:,} emails in {seconds:.2f} s = {per_s:,.0f}/s over {esp.requests:,} API calls "
        f"({n_workers} workers; duplicates {duplicates}, review {review}, lost {lost})"
    )
    return per_s, duplicates, lost


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--single-people", type=int, default=20_000, help="fewer for a quicker run")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from bench.ingest import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from incidents.models import Incident
    from tests.mock_esp import MockMailgun

    call_command("migrate", verbosity=0)
    Incident.objects.filter(title__startswith="bench send").delete()
    with MockMailgun() as esp:
        common = {
            "EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend",
            "MAILGUN_API_KEY": "mock-key",
            "MAILGUN_API_URL": esp.url,
            "MAILGUN_SENDER_DOMAIN": "mg.example.com",
            "AMENDS_SENDERS_PER_CAMPAIGN": str(args.workers),
        }
        batch, dup_b, lost_b = run(
            "batch", args.people, args.workers, esp, {**common, "AMENDS_ESP_BATCH": "auto"}, 100_000
        )
        single, dup_s, lost_s = run(
            "single",
            args.single_people,
            args.workers,
            esp,
            {**common, "AMENDS_ESP_BATCH": "false", "AMENDS_SINGLE_BATCH_SIZE": "100"},
            100_000,
        )
    Incident.objects.filter(title__startswith="bench send").delete()
    print(
        f"bench send: batch_per_s={batch:.0f} single_per_s={single:.0f} ratio={batch / single:.2f} "
        f"duplicates={dup_b + dup_s} lost={lost_b + lost_s}"
    )


if __name__ == "__main__":
    main()
