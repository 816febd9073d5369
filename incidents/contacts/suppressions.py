"""The suppression list's only writer: every add and lift goes through here and is recorded with who, what and why."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from .models import Suppression, SuppressionChange


def _normal(email: str) -> str:
    return email.strip().lower()


def suppression_add(*, email: str, reason: str, source: str, by=None) -> Suppression:
    """Put an address on the list for a reason (once per reason); a new entry is recorded as a change."""
    email = _normal(email)
    with transaction.atomic():
        entry, created = Suppression.objects.get_or_create(
            email=email, reason=reason, defaults={"source": source[:200]}
        )
        if created:
            SuppressionChange.objects.create(
                email=email, reason=reason, action=SuppressionChange.Action.ADDED, source=source[:200], by=by
            )
    return entry


def suppression_add_many(*, entries: list[Suppression], source: str, by=None) -> int:
    """Add what is not on the list yet; returns how many were new (counting the whole table was O(n)).

    An entry without a source of its own gets `source`; each new entry is recorded as a change.
    """
    wanted: dict[tuple[str, str], Suppression] = {}
    for entry in entries:
        entry.email = _normal(entry.email)
        entry.source = (entry.source or source)[:200]
        wanted.setdefault((entry.email, entry.reason), entry)
    if not wanted:
        return 0
    with transaction.atomic():
        emails = {email for email, _ in wanted}
        existing = set(Suppression.objects.filter(email__in=emails).values_list("email", "reason"))
        new = [entry for key, entry in wanted.items() if key not in existing]
        Suppression.objects.bulk_create(new, ignore_conflicts=True)
        SuppressionChange.objects.bulk_create(
            SuppressionChange(
                email=e.email, reason=e.reason, action=SuppressionChange.Action.ADDED, source=e.source, by=by
            )
            for e in new
        )
    return len(new)


def suppression_lift(*, email: str, reason: str, source: str, by=None) -> int:
    """Take an address off the list for one reason (e.g. they subscribed again); returns how many were lifted."""
    email = _normal(email)
    with transaction.atomic():
        lifted, _ = Suppression.objects.filter(email=email, reason=reason).delete()
        if lifted:
            SuppressionChange.objects.create(
                email=email, reason=reason, action=SuppressionChange.Action.LIFTED, source=source[:200], by=by
            )
    return lifted


def is_suppressed(email: str) -> bool:
    return Suppression.objects.filter(email=_normal(email)).exists()


def suppressed_among(emails: Iterable[str]) -> set[str]:
    """Which of these addresses (normalised) are on the list, for any reason."""
    wanted = {_normal(e) for e in emails}
    found: set[str] = set()
    chunk = list(wanted)
    for i in range(0, len(chunk), 5000):
        found.update(Suppression.objects.filter(email__in=chunk[i : i + 5000]).values_list("email", flat=True))
    return found


def suppression_reason(text: str, default: str) -> str:
    """Map an ESP's reason text (HardBounce, SpamComplaint, BOUNCE, unsubscribe...) to ours."""
    t = text.lower()
    if "complain" in t or "spam" in t:
        return Suppression.Reason.COMPLAINED
    if "bounce" in t or "invalid" in t:
        return Suppression.Reason.HARD_BOUNCE
    if "unsub" in t:
        return Suppression.Reason.UNSUBSCRIBED
    if "manual" in t:
        return Suppression.Reason.MANUAL
    return default


def suppressions_erase(*, email: str) -> int:
    """Forget every entry and change of one address (erasure on request): the caller keeps a hashed entry."""
    email = _normal(email)
    with transaction.atomic():
        SuppressionChange.objects.filter(email=email).delete()
        deleted, _ = Suppression.objects.filter(email=email).delete()
    return deleted
