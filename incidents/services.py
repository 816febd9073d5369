"""Incidents themselves: logging one and saving edits (which recompute its ledger when they change who was hit)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .ledger import ledger_compute
from .models import Incident

# The fields of an incident its ledger depends on.
LEDGER_FIELDS = {"started_at", "ended_at", "workflows", "tier_bounds"}


def incident_create(
    *,
    title: str,
    started_at: datetime,
    ended_at: datetime | None = None,
    workflows: Iterable[str] = (),
    owner=None,
    **fields,
) -> Incident:
    incident = Incident(
        title=title,
        started_at=started_at,
        ended_at=ended_at,
        workflows=[w.strip() for w in workflows if w.strip()],
        owner=owner,
        **fields,
    )
    incident.full_clean()
    incident.save()
    return incident


def incident_save(*, incident: Incident) -> Incident:
    """Save a new incident built by the form (already validated)."""
    incident.save()
    return incident


def incident_update(*, incident: Incident, changed: Iterable[str]) -> None:
    """Save an edited incident; the ledger depends on the window, workflows and tiers."""
    incident.save()
    if LEDGER_FIELDS & set(changed):
        ledger_compute(incident=incident)
