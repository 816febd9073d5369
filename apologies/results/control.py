"""Did the apology work? Re-signups, unsubscribes and complaints of the apologised against the control group.

Outcomes are counted from what is recorded for everyone alike after the campaign started: suppression
changes (an unsubscribe or complaint added, an unsubscribe lifted by a re-signup) and, for the
apologised, their own consents, complaints and replies. Each difference comes with a 95% confidence
interval (Newcombe's hybrid score interval for a difference of two proportions, from statsmodels), and
is called "too few to tell" while either group or the events are too few for the interval to mean much.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from statsmodels.stats.proportion import confint_proportions_2indep

from apologies.campaigns.models import Campaign
from apologies.feedback.models import Reply
from apologies.sending.models import Delivery
from apologies.wayback.models import Consent
from incidents.models import Suppression, SuppressionChange

OUTCOMES = {
    "resignups": "re-signed up",
    "unsubscribes": "unsubscribed",
    "complaints": "complained",
}


def outcome_emails(*, campaign: Campaign, since) -> dict[str, set[str]]:
    """The addresses with each outcome since `since`, among this campaign's apologised and control people."""
    people = set(campaign.control_members.values_list("email", flat=True)) | set(
        campaign.deliveries.filter(status=Delivery.Status.SENT).values_list("email", flat=True)
    )
    changes = SuppressionChange.objects.filter(at__gte=since)
    lifted = changes.filter(action=SuppressionChange.Action.LIFTED, reason=Suppression.Reason.UNSUBSCRIBED)
    added = changes.filter(action=SuppressionChange.Action.ADDED)
    counted = Consent.objects.filter(campaign=campaign, choice=Consent.Choice.RESUBSCRIBE).filter(
        Q(confirmation_sent_at__isnull=True) | Q(confirmed_at__isnull=False)
    )
    found = {
        "resignups": set(lifted.values_list("email", flat=True)) | set(counted.values_list("email", flat=True)),
        "unsubscribes": set(added.filter(reason=Suppression.Reason.UNSUBSCRIBED).values_list("email", flat=True)),
        "complaints": set(added.filter(reason=Suppression.Reason.COMPLAINED).values_list("email", flat=True))
        | set(campaign.deliveries.filter(complained_at__isnull=False).values_list("email", flat=True))
        | set(
            Reply.objects.filter(campaign=campaign, kind=Reply.Kind.COMPLAINT, delivery__isnull=False).values_list(
                "delivery__email", flat=True
            )
        ),
    }
    return {k: v & people for k, v in found.items()}


def compare(count1: int, n1: int, count2: int, n2: int) -> dict:
    """Apologised (1) minus control (2), in percentage points, with a 95% interval and a verdict in words."""
    rate1 = 100 * count1 / n1 if n1 else None
    rate2 = 100 * count2 / n2 if n2 else None
    low = high = None
    if n1 and n2:
        ci = confint_proportions_2indep(count1, n1, count2, n2, method="newcomb", compare="diff", alpha=0.05)
        low, high = round(100 * float(ci[0]), 2), round(100 * float(ci[1]), 2)
    if min(n1, n2) < settings.AMENDS_CONTROL_MIN_GROUP or count1 + count2 < settings.AMENDS_CONTROL_MIN_EVENTS:
        verdict = "too few to tell"
    elif low is not None and low > 0:
        verdict = "more among the apologised"
    elif high is not None and high < 0:
        verdict = "fewer among the apologised"
    else:
        verdict = "no clear difference"
    return {
        "apologised": count1,
        "apologised_rate": round(rate1, 2) if rate1 is not None else None,
        "control": count2,
        "control_rate": round(rate2, 2) if rate2 is not None else None,
        "difference": round(rate1 - rate2, 2) if rate1 is not None and rate2 is not None else None,
        "ci_low": low,
        "ci_high": high,
        "verdict": verdict,
    }


def control_results(*, campaign: Campaign) -> dict | None:
    """The comparison for a campaign with a control group; None without one."""
    control = set(campaign.control_members.values_list("email", flat=True))
    if not control:
        return None
    since = campaign.started_at or campaign.approved_at
    apologised = set(campaign.deliveries.filter(status=Delivery.Status.SENT).values_list("email", flat=True))
    found = outcome_emails(campaign=campaign, since=since)
    rows = []
    for key, label in OUTCOMES.items():
        row = compare(len(found[key] & apologised), len(apologised), len(found[key] & control), len(control))
        rows.append({"outcome": key, "label": label, **row})
    too_small = all(r["verdict"] == "too few to tell" for r in rows)
    return {
        "apologised": len(apologised),
        "control": len(control),
        "since": since,
        "rows": rows,
        "summary": (
            "The numbers are too small to tell whether the apology changed anything yet: "
            f"each group needs at least {settings.AMENDS_CONTROL_MIN_GROUP} people and the outcomes "
            f"at least {settings.AMENDS_CONTROL_MIN_EVENTS} events between them."
            if too_small
            else "Differences are apologised minus control, in percentage points, with a 95% confidence interval; "
            "an interval that includes 0 means no clear difference."
        ),
    }
