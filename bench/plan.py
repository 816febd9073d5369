"""Campaign planning benchmark: planning and delivery creation for a 1,000,000-person campaign on PostgreSQL.

Prints the seconds of each step (campaign_create with its plan, deliveries_create), the peak memory the steps
added and the counts checked after (one delivery per emailed person: 0 duplicates, 0 lost). Runs again and
again on the same database: it removes what it made.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/amends_bench .venv/bin/python bench/plan.py [--people N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/amends_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)

TITLE = "bench plan"


def clean(connection) -> None:
    """Remove earlier runs' rows set-wise first: Django's cascade would load a million recipients to delete them."""
    from apologies.models import Campaign, Delivery, Recipient
    from incidents.models import AffectedPerson, Incident

    incidents = f"SELECT id FROM {Incident._meta.db_table} WHERE title = %s"
    campaigns = f"SELECT id FROM {Campaign._meta.db_table} WHERE incident_id IN ({incidents})"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Delivery._meta.db_table} WHERE incident_id IN ({incidents})", [TITLE])
        cursor.execute(f"DELETE FROM {Recipient._meta.db_table} WHERE campaign_id IN ({campaigns})", [TITLE])
        cursor.execute(f"DELETE FROM {AffectedPerson._meta.db_table} WHERE incident_id IN ({incidents})", [TITLE])
    Incident.objects.filter(title=TITLE).delete()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    args = parser.parse_args()

    from bench.ingest import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection

    from apologies.campaigns import planning
    from apologies.models import Delivery, Recipient
    from apologies.sending import services as sending
    from incidents.models import AffectedPerson, Incident

    if connection.vendor != "postgresql":
        sys.exit("bench/plan.py measures the PostgreSQL path: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    clean(connection)
    marketer, _ = User.objects.get_or_create(username="bench-marketer")
    marketer.groups.add(Group.objects.get(name="marketer"))
    start = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    incident = Incident.objects.create(title=TITLE, started_at=start, workflows=["wf"])
    # The ledger, made set-wise: 85% subscribed (email), the rest unsubscribed or bounced (letter or nothing).
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AffectedPerson._meta.db_table} (incident_id, email, messages, first_at, last_at, "
            "max_in_10_min, bounced, state, tier) "
            "SELECT %s, 'plan' || lpad(i::text, 7, '0') || '@example.com', 1 + i %% 70, %s, %s + interval '5 min', "
            "1 + i %% 25, i %% 20 = 7, CASE WHEN i %% 20 < 17 THEN 'subscribed' WHEN i %% 20 = 17 THEN "
            "'unsubscribed' ELSE 'bounced' END, 0 FROM generate_series(0, %s - 1) i",
            [incident.id, start, start, args.people],
        )
    print(f"ledger of {args.people:,} people made in {time.perf_counter() - t:.1f} s")

    before = peak_mb()
    t = time.perf_counter()
    campaign = planning.campaign_create(incident=incident, name="bench", author=marketer)
    plan_s = time.perf_counter() - t
    after_plan = peak_mb()
    t = time.perf_counter()
    with django.db.transaction.atomic():
        emailed = sending.deliveries_create(campaign=campaign)
    deliveries_s = time.perf_counter() - t
    after = peak_mb()

    recipients = Recipient.objects.filter(campaign=campaign).count()
    wanted = Recipient.objects.filter(campaign=campaign).exclude(channel="none").count()
    deliveries = Delivery.objects.filter(campaign=campaign).count()
    distinct = Delivery.objects.filter(campaign=campaign).values("recipient_id", "channel").distinct().count()
    duplicates, lost = deliveries - distinct, wanted - distinct
    codes = Recipient.objects.filter(campaign=campaign).values("short_code").distinct().count()
    assert recipients == args.people and codes == recipients, (recipients, codes)
    total_s = plan_s + deliveries_s
    print(f"plan: {recipients:,} recipients in {plan_s:.1f} s = {recipients / plan_s:,.0f}/s")
    print(f"deliveries: {deliveries:,} ({emailed:,} emails) in {deliveries_s:.1f} s")
    print(f"duplicates {duplicates}, lost {lost}")
    print(f"peak memory: {before:.0f} MB before, {after_plan:.0f} MB after planning, {after:.0f} MB after deliveries")
    clean(connection)
    print(
        f"bench plan: people={args.people} plan_s={plan_s:.1f} deliveries_s={deliveries_s:.1f} total_s={total_s:.1f} "
        f"peak_growth_mb={after - before:.0f} duplicates={duplicates} lost={lost}"
    )


if __name__ == "__main__":
    main()
