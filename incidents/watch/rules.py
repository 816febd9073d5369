"""The watch's rules: their safe defaults, and judging one batch of new events against them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incidents.models import Suppression
from incidents.vocabulary import EventType

from . import windows
from .models import WatchRule

Kind = WatchRule.Kind

# kind -> (threshold, minimum): what a fresh install watches for, readable on the page and editable there.
DEFAULTS = {
    Kind.PERSON_BURST: (5, 600),  # more than 5 messages to one person from one workflow in 10 minutes
    Kind.VOLUME: (10, 500),  # more than 10x the usual hourly volume, once at least 500 messages an hour
    Kind.SUPPRESSED: (0, 600),  # any message to a suppressed address, in 10 minutes
    Kind.COMPLAINTS: (0.1, 1000),  # complaints over 0.1% of the last hour, once at least 1,000 messages
}
# A usual hourly volume learnt over fewer hours than this is no baseline yet.
BASELINE_MIN_HOURS = 6
# Fewer complaints than this in an hour say nothing yet, whatever the share (1 in 900 is chance).
MIN_COMPLAINTS = 3
# Events that say a message went out (or was tried): each message counts once, at the first of them.
SENDING = frozenset({EventType.QUEUED, EventType.SENT, EventType.DELIVERED, EventType.DEFERRED, EventType.BOUNCED})
NO_WORKFLOW = "(no workflow)"


def rules_current() -> dict[str, WatchRule]:
    """Every rule, as saved or at its default (unsaved: reading the rules never writes them)."""
    saved = {rule.kind: rule for rule in WatchRule.objects.all()}
    for kind, (threshold, minimum) in DEFAULTS.items():
        saved.setdefault(kind, WatchRule(kind=kind, threshold=threshold, minimum=minimum))
    return {kind: saved[kind] for kind in DEFAULTS}


@dataclass(slots=True)
class Row:
    """A new watched event as the rules read it."""

    id: int
    recipient: str
    occurred_at: datetime
    event: str
    message_id: str
    workflow: str
    key: str


@dataclass
class Firing:
    """A workflow that broke one or more rules in this batch."""

    workflow: str
    first_offending_at: float
    last_offending_at: float = 0.0
    rules: set[str] = field(default_factory=set)
    people: int = 0
    rate_per_minute: int = 0
    facts: list[str] = field(default_factory=list)

    def add(self, rule: str, ts: float, fact: str) -> None:
        self.rules.add(rule)
        self.first_offending_at = min(self.first_offending_at, ts)
        self.last_offending_at = max(self.last_offending_at, ts)
        self.facts.append(fact)


def rules_judge(*, esp: str, rows: list[Row], rules: dict[str, WatchRule]) -> tuple[dict[str, Firing], dict]:
    """Count a batch's new events into the windows and return the workflows that broke a rule, and the counts."""
    sent: list[windows.Sent] = []
    minutes: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: {"m": 0, "c": 0, "e": 0})
    for row in rows:
        ts = row.occurred_at.timestamp()
        workflow = row.workflow or NO_WORKFLOW
        bucket = minutes[(workflow, int(ts // 60))]
        bucket["e"] += 1
        if row.event == EventType.COMPLAINED:
            bucket["c"] += 1
        if row.event in SENDING and row.recipient:
            sent.append(windows.Sent(workflow, row.recipient, row.message_id or row.key, ts))
    burst = rules[Kind.PERSON_BURST]
    window = max(60, burst.minimum or 600)
    counted = windows.persons_count(esp=esp, sent=sent, window=window) if sent else []
    firings: dict[str, Firing] = {}
    offenders: dict[str, dict[str, float]] = defaultdict(dict)
    last_offence: dict[str, float] = {}
    new_messages = []
    for s, (new, most, ts) in zip(sent, counted, strict=True):
        if new:
            minutes[(s.workflow, int(ts // 60))]["m"] += 1
            new_messages.append(s)
        if burst.enabled and most > burst.threshold:
            offenders[s.workflow].setdefault(s.person, ts)
            last_offence[s.workflow] = max(ts, last_offence.get(s.workflow, ts))
    windows.minutes_add(esp=esp, counts=minutes)
    latest: dict[str, int] = {}
    for workflow, minute in minutes:
        latest[workflow] = max(minute, latest.get(workflow, minute))
    volume = rules[Kind.VOLUME]
    usual = windows.baselines(esp=esp, workflows=latest) if volume.enabled else {}
    # A minute over K times the usual minute is where a volume burst starts.
    limits = {w: volume.threshold * hourly / 60 for w, (hourly, hours) in usual.items() if hours >= BASELINE_MIN_HOURS}
    totals = windows.hour_totals(esp=esp, workflows=latest, limits=limits)

    for workflow, people in offenders.items():
        start = windows.persons_window_start(esp=esp, workflow=workflow, people=people, window=window)
        firing = firings.setdefault(workflow, Firing(workflow, start))
        firing.people = windows.people_add(esp=esp, workflow=workflow, people=people)
        firing.add(
            Kind.PERSON_BURST,
            start,
            f"{firing.people:,} {'person' if firing.people == 1 else 'people'} got more than "
            f"{burst.threshold_shown()} messages in {window // 60} minutes",
        )

    if volume.enabled:
        for workflow, (messages, _, _, _, first_minute) in totals.items():
            hourly, hours = usual.get(workflow, (0.0, 0))
            if hours >= BASELINE_MIN_HOURS and messages >= volume.minimum and messages > volume.threshold * hourly:
                ts = float(first_minute * 60)
                firing = firings.setdefault(workflow, Firing(workflow, ts))
                firing.add(
                    Kind.VOLUME,
                    ts,
                    f"{messages:,} messages in the last hour, usually {hourly:,.0f} ({messages / max(hourly, 1):.0f}x)",
                )

    suppressed = rules[Kind.SUPPRESSED]
    if suppressed.enabled and new_messages:
        hits = suppressed_sends(new_messages)
        if hits:
            counts = windows.suppressed_count(esp=esp, hits=hits, window=max(60, suppressed.minimum or 600))
            for workflow, (n, first) in counts.items():
                if n > suppressed.threshold:
                    firing = firings.setdefault(workflow, Firing(workflow, first))
                    firing.add(Kind.SUPPRESSED, first, f"{n} messages to addresses on the suppression list")

    complaints = rules[Kind.COMPLAINTS]
    if complaints.enabled:
        for workflow, (messages, n, _, first_minute, _) in totals.items():
            if n >= MIN_COMPLAINTS and messages >= complaints.minimum and 100.0 * n / messages > complaints.threshold:
                ts = float(first_minute * 60)
                firing = firings.setdefault(workflow, Firing(workflow, ts))
                firing.add(
                    Kind.COMPLAINTS,
                    ts,
                    f"{n} complaints for {messages:,} messages in the last hour ({100.0 * n / messages:.2f}%)",
                )

    for workflow, firing in firings.items():
        # The burst lasts at least to the newest offending message (for the hourly rules: this batch's newest).
        newest = last_offence.get(workflow) or float((latest.get(workflow, 0) + 1) * 60 - 1)
        firing.last_offending_at = max(firing.last_offending_at, newest)
        firing.rate_per_minute = totals.get(workflow, (0, 0, 0, 0, 0))[2]
    return firings, {"sent": len(sent), "new_messages": len(new_messages)}


def suppressed_sends(sent: list[windows.Sent]) -> list[tuple[str, str, float]]:
    """Messages that went to an address already on the suppression list when they were sent."""
    people = {s.person for s in sent}
    since: dict[str, float] = {}
    for email, created in Suppression.objects.filter(email__in=people).values_list("email", "created"):
        ts = created.timestamp()
        since[email] = min(ts, since.get(email, ts))
    return [(s.workflow, s.message, s.ts) for s in sent if s.person in since and since[s.person] <= s.ts]


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
