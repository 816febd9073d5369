"""The ledger: who an incident's sends reached, how often, their state now, their tier; and its exports."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Count, Max, Min, OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from .contacts.languages import country_languages, language_code
from .exports import csv_stream
from .models import AffectedPerson, Contact, Incident, Suppression
from .vocabulary import NEVER_SENT, EventType


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# The words of the ledger's SQL, from the vocabulary and the models' choices, never typed in the SQL itself.
SENT_WORDS = _sql_list([EventType.SENT, EventType.QUEUED])
NEVER_SENT_WORDS = _sql_list(NEVER_SENT)
WORDS = {
    "complained": EventType.COMPLAINED.value,
    "bounced": EventType.BOUNCED.value,
    "unsubscribed": EventType.UNSUBSCRIBED.value,
    "subscribed": EventType.SUBSCRIBED.value,
    "r_complained": Suppression.Reason.COMPLAINED.value,
    "r_unsub": _sql_list([Suppression.Reason.UNSUBSCRIBED, Suppression.Reason.NEVER_AGAIN, Suppression.Reason.MANUAL]),
    "r_bounce": Suppression.Reason.HARD_BOUNCE.value,
    "s_complained": AffectedPerson.State.COMPLAINED.value,
    "s_unsubscribed": AffectedPerson.State.UNSUBSCRIBED.value,
    "s_bounced": AffectedPerson.State.BOUNCED.value,
    "s_subscribed": AffectedPerson.State.SUBSCRIBED.value,
}


def ledger_compute(*, incident: Incident) -> dict:
    """Recompute who was hit, how often and their state now, set-wise in the database; returns the stats
    stored on the incident (`ledger_stats`, with the `seconds` it took).

    One pass over the incident's events groups them into messages (`amends_msgs`, a temporary table): each
    message's first time among the events the ledger counts, whether it was never sent, and what its events
    said since the incident began (complaint, bounce, unsubscribe, re-subscribe: these count outside the
    incident's end and workflows too). People are then aggregated from the messages, and the busiest ten
    minutes are counted by a window only for people whose messages span more than ten minutes, into a second
    temporary table (`amends_people`) that `people_write` makes the ledger's rows.
    """
    pg = connection.vendor == "postgresql"
    start = connection.ops.adapt_datetimefield_value(incident.started_at)
    counted = [f"(message_id <> '' OR event IN ({SENT_WORDS}))"]
    params: list = []
    if incident.ended_at:
        counted.append("occurred_at <= %s")
        params.append(connection.ops.adapt_datetimefield_value(incident.ended_at))
    if incident.workflows:
        counted.append("(" + " OR ".join(["workflows LIKE %s"] * len(incident.workflows)) + ")")
        params += [f"%|{w.replace('|', '/')}|%" for w in incident.workflows]
    counts = " AND ".join(counted)
    # A message counts once however many events it produced; one the ESP rejected (or failed to send) was
    # never sent, whatever other events it has.  Events without a message id count only when they say "sent".
    mid = "CASE WHEN message_id <> '' THEN message_id ELSE {key} END".format(key="key::text" if pg else "key")
    msgs = (
        "SELECT recipient, "
        f"MIN(CASE WHEN {counts} THEN occurred_at END) AS at, "
        f"MAX(CASE WHEN event IN ({NEVER_SENT_WORDS}) AND {counts} THEN 1 ELSE 0 END) AS never, "
        "MAX(CASE WHEN event = '{complained}' THEN 1 ELSE 0 END) AS complained, "
        "MAX(CASE WHEN event = '{bounced}' THEN 1 ELSE 0 END) AS bounced, "
        "MAX(CASE WHEN event = '{unsubscribed}' THEN occurred_at END) AS unsub_at, "
        "MAX(CASE WHEN event = '{subscribed}' THEN occurred_at END) AS resub_at "
        "FROM incidents_sendevent WHERE incident_id = %s AND occurred_at >= %s "
        "AND (message_id <> '' OR event IN ({sent}, '{complained}', '{bounced}', '{unsubscribed}', '{subscribed}')) "
        f"GROUP BY recipient, {mid}"
    ).format(sent=SENT_WORDS, **WORDS)
    # The same comparison as the window's frame (its end is the message's time plus 599.999 s).
    if pg:
        # A partition is one person: sorted by a hash of the address first (integers compare faster than
        # text), then by the address itself, so two people with the same hash stay apart.
        window = "PARTITION BY hashtext(recipient), recipient ORDER BY at RANGE BETWEEN CURRENT ROW AND "
        window += "INTERVAL '599.999 seconds' FOLLOWING"
        within = "last_at <= first_at + INTERVAL '599.999 seconds'"
    else:
        window = "PARTITION BY recipient ORDER BY julianday(at) RANGE BETWEEN CURRENT ROW AND "
        window += f"{599.999 / 86400:.12f} FOLLOWING"
        within = f"julianday(last_at) <= julianday(first_at) + {599.999 / 86400:.12f}"
    tier = (
        "CASE "
        + " ".join(
            f"WHEN agg.messages >= {int(low)} THEN {i}" for i, low in reversed(list(enumerate(incident.tier_bounds)))
        )
        + " ELSE 0 END"
    )
    people = """
        CREATE TEMPORARY TABLE amends_people AS
        WITH sent AS (SELECT recipient, at FROM amends_msgs WHERE at IS NOT NULL AND never = 0),
        spans AS (
            SELECT recipient, COUNT(*) AS messages, MIN(at) AS first_at, MAX(at) AS last_at FROM sent
            GROUP BY recipient
        ),
        peaks AS (
            SELECT recipient, MAX(n) AS peak
            FROM (
                SELECT recipient, COUNT(*) OVER ({window}) AS n FROM sent
                WHERE recipient IN (SELECT recipient FROM spans WHERE NOT ({within}))
            ) w
            GROUP BY recipient
        ),
        agg AS (
            SELECT spans.recipient, messages, first_at, last_at, COALESCE(peaks.peak, messages) AS peak
            FROM spans LEFT JOIN peaks ON peaks.recipient = spans.recipient
        ),
        after AS (
            SELECT recipient, MAX(complained) AS complained, MAX(bounced) AS bounced,
                MAX(unsub_at) AS unsub_at, MAX(resub_at) AS resub_at
            FROM amends_msgs
            WHERE complained = 1 OR bounced = 1 OR unsub_at IS NOT NULL OR resub_at IS NOT NULL
            GROUP BY recipient
        ),
        sup AS (
            SELECT email,
                MAX(CASE WHEN reason = '{r_complained}' THEN 1 ELSE 0 END) AS complained,
                MAX(CASE WHEN reason IN ({r_unsub}) THEN 1 ELSE 0 END) AS unsub,
                MAX(CASE WHEN reason = '{r_bounce}' THEN 1 ELSE 0 END) AS bounced
            FROM incidents_suppression WHERE email IN (SELECT recipient FROM spans) GROUP BY email
        )
        SELECT agg.recipient AS email, agg.messages AS messages, agg.first_at AS first_at, agg.last_at AS last_at,
            agg.peak AS max_in_10_min, (COALESCE(after.bounced, 0) = 1 OR COALESCE(sup.bounced, 0) = 1) AS bounced,
            CASE
                WHEN COALESCE(after.complained, 0) = 1 OR COALESCE(sup.complained, 0) = 1 THEN '{s_complained}'
                WHEN COALESCE(sup.unsub, 0) = 1
                    OR (after.unsub_at IS NOT NULL AND (after.resub_at IS NULL OR after.resub_at < after.unsub_at))
                    THEN '{s_unsubscribed}'
                WHEN COALESCE(after.bounced, 0) = 1 OR COALESCE(sup.bounced, 0) = 1 THEN '{s_bounced}'
                ELSE '{s_subscribed}'
            END AS state,
            {tier} AS tier
        FROM agg
        LEFT JOIN after ON after.recipient = agg.recipient
        LEFT JOIN sup ON sup.email = agg.recipient
    """.format(window=window, within=within, tier=tier, **WORDS)
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        if pg:
            # Sorting ~1M messages per person stays in memory instead of spilling to disk; compiling these
            # statements (JIT) costs more than it saves at this size.
            cursor.execute("SET LOCAL work_mem = '128MB'")
            cursor.execute("SET LOCAL jit = off")
        # Messages are read several times below: work them out once.
        cursor.execute("DROP TABLE IF EXISTS amends_msgs")
        cursor.execute("DROP TABLE IF EXISTS amends_people")
        cursor.execute(f"CREATE TEMPORARY TABLE amends_msgs AS {msgs}", [*params, *params, incident.id, start])
        if pg:
            # Row counts for the planner: without them it guesses a few thousand messages and sorts badly.
            cursor.execute("ANALYZE amends_msgs")
        cursor.execute(people)
        people_write(cursor, incident.id)
        stats = _ledger_stats(incident, cursor, pg)
        cursor.execute("DROP TABLE amends_msgs")
        cursor.execute("DROP TABLE amends_people")
        stats["seconds"] = round(time.monotonic() - started, 3)
        incident.ledger_stats = stats
        incident.ledger_computed_at = timezone.now()
        incident.save(update_fields=["ledger_stats", "ledger_computed_at"])
    return stats


# What the ledger says of a person; a recompute writes a person's row only when one of these changed.
PERSON_COLUMNS = ("messages", "first_at", "last_at", "max_in_10_min", "bounced", "state", "tier")


def people_write(cursor, incident_id: int) -> None:
    """Make the incident's ledger rows what `amends_people` (email plus PERSON_COLUMNS) says: people no longer
    hit are deleted, new ones inserted, changed ones updated. Rows that did not change are not written: a
    recompute while a burst is watched (every few minutes) rewrites only the people it touched, not every
    index entry of every person (35,000 rows into four indexes took 0.4 s of a 4.3 s recompute)."""
    if connection.vendor == "postgresql":
        gone = "NOT EXISTS (SELECT 1 FROM amends_people p WHERE p.email = incidents_affectedperson.email)"
    else:
        # SQLite runs NOT EXISTS once per row (77 s for 50,000 people); NOT IN reads the list into an index.
        gone = "email NOT IN (SELECT email FROM amends_people)"
    cursor.execute(f"DELETE FROM incidents_affectedperson WHERE incident_id = %s AND {gone}", [incident_id])
    columns = ", ".join(PERSON_COLUMNS)
    changed = " OR ".join(f"incidents_affectedperson.{c} <> excluded.{c}" for c in PERSON_COLUMNS)
    # "WHERE true": SQLite would read ON CONFLICT as a join's ON without it.
    cursor.execute(
        f"INSERT INTO incidents_affectedperson (incident_id, email, {columns}) "
        f"SELECT %s, email, {columns} FROM amends_people WHERE true "
        "ON CONFLICT (incident_id, email) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in PERSON_COLUMNS)
        + f" WHERE {changed}",
        [incident_id],
    )


def _ledger_stats(incident: Incident, cursor, pg: bool) -> dict:
    people = AffectedPerson.objects.filter(incident=incident)
    totals = people.aggregate(
        n_people=Count("id"),
        n_messages=Sum("messages"),
        max_messages=Max("messages"),
        lo=Min("first_at"),
        hi=Max("last_at"),
    )
    by_state = dict(people.values_list("state").annotate(n=Count("id")).order_by())
    by_tier = dict(people.values_list("tier").annotate(n=Count("id")).order_by())
    by_count = _histogram(people.values_list("messages").annotate(n=Count("id")).order_by())

    # Messages over time: minute buckets, wider when the incident ran for days.
    lo, hi = totals["lo"], totals["hi"]
    per_bucket: list[list] = []
    bucket = 60
    if lo is not None:
        lo, hi = _as_datetime(lo), _as_datetime(hi)
        span = (hi - lo).total_seconds()
        bucket = max(60, math.ceil(span / 1440 / 60) * 60)
        sent = "WHERE at IS NOT NULL AND never = 0"
        if pg:
            # date_bin() floors in whole microseconds; EXTRACT(EPOCH ...) is numeric, slow on every message.
            cursor.execute(
                f"SELECT CAST(EXTRACT(EPOCH FROM b) AS BIGINT) / {bucket}, n FROM (SELECT date_bin("
                f"INTERVAL '{bucket} seconds', at, TIMESTAMPTZ 'epoch') AS b, COUNT(*) AS n FROM amends_msgs {sent} "
                "GROUP BY 1) per ORDER BY 1"
            )
        else:
            epoch = "(julianday(at) - 2440587.5) * 86400.0"
            cursor.execute(
                f"SELECT CAST({epoch} / {bucket} AS INTEGER) AS b, COUNT(*) FROM amends_msgs {sent} "
                "GROUP BY 1 ORDER BY 1"
            )
        counts = dict(cursor.fetchall())
        first, last = min(counts), max(counts)
        per_bucket = [
            [datetime.fromtimestamp(b * bucket, tz=UTC).isoformat(), counts.get(b, 0)] for b in range(first, last + 1)
        ]
    # Messages the ledger counts (inside the window and workflows), and those of them never sent: with nobody hit,
    # the page says whether there was nothing to count or the ESP sent none of it.
    window_messages = never_sent = 0
    if not totals["n_people"]:
        # Read only then: a scan of every message would cost a ledger of a million events ~50 ms for nothing.
        cursor.execute("SELECT COUNT(*), SUM(never) FROM amends_msgs WHERE at IS NOT NULL")
        window_messages, never_sent = cursor.fetchone()
    labels = incident.tier_labels()
    return {
        "window_messages": window_messages or 0,
        "never_sent": never_sent or 0,
        "people": totals["n_people"] or 0,
        "messages": totals["n_messages"] or 0,
        "max_messages": totals["max_messages"] or 0,
        "by_state": {state: by_state.get(state, 0) for state in AffectedPerson.State.values},
        "by_tier": [[labels[i], by_tier.get(i, 0)] for i in range(len(labels))],
        "by_count": [[m, n] for m, n in by_count],
        "bucket_seconds": bucket,
        "per_bucket": per_bucket,
    }


COUNT_BINS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 50, 100, 200, 500, 1000]


def _histogram(counts: Iterable[tuple[int, int]]) -> list[list]:
    """People per number of messages, in bins that widen as counts grow, so a long tail stays readable."""
    bins = [0] * len(COUNT_BINS)
    for messages, n in counts:
        i = max(i for i, low in enumerate(COUNT_BINS) if messages >= low) if messages >= 1 else 0
        bins[i] += n
    last = max((i for i, n in enumerate(bins) if n), default=-1)
    labels = []
    for i, low in enumerate(COUNT_BINS):
        high = COUNT_BINS[i + 1] - 1 if i + 1 < len(COUNT_BINS) else None
        labels.append(str(low) if high == low else f"{low}-{high}" if high else f"{low}+")
    return [[labels[i], bins[i]] for i in range(last + 1)]


def _as_datetime(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def ledger_people(*, incident: Incident, q: str = "", state: str = "", tier: str = "") -> QuerySet[AffectedPerson]:
    """The incident's people, filtered as the People page filters them: `q` a part of the address, `state` one
    of AffectedPerson.State, `tier` a tier's index as text; values that are none of these are ignored."""
    people = AffectedPerson.objects.filter(incident=incident)
    if q:
        people = people.filter(email__icontains=q.lower())
    if state in AffectedPerson.State.values:
        people = people.filter(state=state)
    if tier.isdigit():
        people = people.filter(tier=int(tier))
    return people


def ledger_rows(*, incident: Incident, q: str = "", state: str = "", tier: str = "") -> Iterator[dict]:
    """The ledger's rows for export (LEDGER_COLUMNS), busiest first, filtered as `ledger_people`."""
    labels = incident.tier_labels()
    contact = Contact.objects.filter(email=OuterRef("email"))
    qs = (
        ledger_people(incident=incident, q=q, state=state, tier=tier)
        .annotate(
            contact_language=Subquery(contact.values("language")[:1]),
            contact_country=Subquery(contact.values("country")[:1]),
        )
        .order_by("-messages", "email")
    )
    for p in qs.iterator(chunk_size=5000):
        # The contact's language, else their country's most spoken one (as the People page shows it).
        own = language_code(p.contact_language or "")
        spoken = country_languages(p.contact_country or "") if not own else ()
        yield {
            "email": p.email,
            "messages": p.messages,
            "first_at": p.first_at.isoformat(),
            "last_at": p.last_at.isoformat(),
            "max_in_10_min": p.max_in_10_min,
            "state": p.state,
            "tier": labels[p.tier] if p.tier < len(labels) else "",
            "language": own or (spoken[0] if spoken else ""),
        }


LEDGER_COLUMNS = ["email", "messages", "first_at", "last_at", "max_in_10_min", "state", "tier", "language"]


def ledger_export_csv(*, incident: Incident, q: str = "", state: str = "", tier: str = "") -> Iterator[str]:
    """The ledger (filtered as `ledger_people`) as CSV text, streamed in pieces, every text cell formula-safe."""
    rows = ledger_rows(incident=incident, q=q, state=state, tier=tier)
    return csv_stream(LEDGER_COLUMNS, ([row[c] for c in LEDGER_COLUMNS] for row in rows))
