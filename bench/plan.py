"""Campaign planning benchmark: planning and delivery creation for a 1,000,000-person campaign on PostgreSQL.

Prints the seconds of each step (campaign_create with its plan, deliveries_create), the peak memory the steps
added and the counts checked after (one delivery per person reached: 0 duplicates, 0 lost; erased people never
emailed). The ledger: 85% still subscribed, the rest unsubscribed or bounced with a US or German postal address,
1% on the suppression list, ten erased on request. Runs again and again on the same database: it removes what
it made, also after a failure. The last line is JSON.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/amends_bench .venv/bin/python bench/plan.py [--people N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
PREFIX, DOMAIN = "plan", "@example.com"
EMAILS = rf"^{PREFIX}[0-9]{{7}}{re.escape(DOMAIN)}$"  # the bench's people, and no one else's
# People of the bench erased on request: their hashes are removed again with the rest.
ERASED = [f"{PREFIX}{i:07d}{DOMAIN}" for i in range(5, 1000, 100)]


def clean(connection) -> None:
    """Remove earlier runs' rows set-wise first: Django's cascade would load a million recipients to delete them."""
    from apologies.models import Campaign, Delivery, Recipient
    from apologies.privacy.models import ErasedAddress
    from apologies.privacy.services import email_hash
    from incidents.models import AffectedPerson, Contact, Incident, Suppression

    incidents = f"SELECT id FROM {Incident._meta.db_table} WHERE title = %s"
    campaigns = f"SELECT id FROM {Campaign._meta.db_table} WHERE incident_id IN ({incidents})"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Delivery._meta.db_table} WHERE incident_id IN ({incidents})", [TITLE])
        cursor.execute(f"DELETE FROM {Recipient._meta.db_table} WHERE campaign_id IN ({campaigns})", [TITLE])
        cursor.execute(f"DELETE FROM {AffectedPerson._meta.db_table} WHERE incident_id IN ({incidents})", [TITLE])
        cursor.execute(f"DELETE FROM {Contact._meta.db_table} WHERE email ~ %s", [EMAILS])
    Incident.objects.filter(title=TITLE).delete()
    Suppression.objects.filter(email__regex=EMAILS).delete()
    ErasedAddress.objects.filter(email_hash__in=[email_hash(e) for e in ERASED]).delete()


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

    from apologies.privacy.models import ErasedAddress
    from apologies.privacy.services import email_hash
    from incidents.models import AffectedPerson, Contact, Incident, Suppression

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
    # Contacts with a postal address for those who objected (US and DE: the country rules differ), 1% on the
    # suppression list, ten people erased on request (so PostgreSQL computes every address's HMAC).
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Contact._meta.db_table} (email, first_name, last_name, address_line1, address_line2, "
            "city, region, postal_code, country, language, time_zone, address_valid, address_problems, created, "
            "updated) SELECT %s || lpad(i::text, 7, '0') || %s, 'Jo', 'Doe', '1 Main St', '', 'Austin', 'TX', "
            "'73301', CASE WHEN i %% 2 = 0 THEN 'US' ELSE 'DE' END, '', '', true, '', now(), now() "
            "FROM generate_series(0, %s - 1) i WHERE i %% 20 >= 17",
            [PREFIX, DOMAIN, args.people],
        )
        cursor.execute(
            f"INSERT INTO {Suppression._meta.db_table} (email, reason, source, created) "
            "SELECT %s || lpad(i::text, 7, '0') || %s, 'manual', 'bench', now() "
            "FROM generate_series(0, %s - 1) i WHERE i %% 100 = 3",
            [PREFIX, DOMAIN, args.people],
        )
    ErasedAddress.objects.bulk_create([ErasedAddress(email_hash=email_hash(e)) for e in ERASED])
    # As after a real ledger, whose statistics are read right away (and autovacuum analyses a table that grew):
    # the rows' hint bits are set and the planner knows how many people there are.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {AffectedPerson._meta.db_table}")
    print(f"ledger of {args.people:,} people made in {time.perf_counter() - t:.1f} s")

    try:
        figures = measure(args.people, incident, marketer)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            clean(connection)
    print(json.dumps({"bench": "plan", **figures}))


def measure(people: int, incident, marketer) -> dict:
    """Plan the campaign, create its deliveries, check them; print the figures and return them."""
    import django

    from apologies.campaigns import planning
    from apologies.models import Delivery, Recipient
    from apologies.sending import services as sending

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

    recipients = Recipient.objects.filter(campaign=campaign)
    channels = dict(recipients.values_list("channel").annotate(n=django.db.models.Count("id")).order_by())
    wanted = recipients.exclude(channel="none").count()
    deliveries = Delivery.objects.filter(campaign=campaign).count()
    distinct = Delivery.objects.filter(campaign=campaign).values("recipient_id", "channel").distinct().count()
    duplicates, lost = deliveries - distinct, wanted - distinct
    codes = recipients.values("short_code").distinct().count()
    n = recipients.count()
    assert n == people and codes == n, (n, codes)
    erased = recipients.filter(email__in=ERASED)
    assert not erased.filter(channel="email").exists(), "an erased person would be emailed"
    assert all("never_again" in d for d in erased.values_list("detail", flat=True))
    total_s = plan_s + deliveries_s
    print(f"plan: {n:,} recipients in {plan_s:.1f} s = {n / plan_s:,.0f}/s; channels {channels}")
    print(f"deliveries: {deliveries:,} ({emailed:,} emails) in {deliveries_s:.1f} s; total {total_s:.1f} s")
    print(f"duplicates {duplicates}, lost {lost}; erased people planned without email: {erased.count()}")
    print(f"peak memory: {before:.0f} MB before, {after_plan:.0f} MB after planning, {after:.0f} MB after deliveries")
    return {
        "people": people,
        "plan_s": round(plan_s, 1),
        "deliveries_s": round(deliveries_s, 1),
        "total_s": round(total_s, 1),
        "peak_growth_mb": round(after - before),
        "duplicates": duplicates,
        "lost": lost,
        **{f"{c}s": channels.get(c, 0) for c in ("email", "letter", "none")},
    }


if __name__ == "__main__":
    main()
