"""The control group: an optional random share of the audience that gets no apology, chosen at approval.

Never anyone who complained or asked never to be contacted: they are owed the apology (or the silence
they asked for), not an experiment. The choice is random (the system's CSPRNG), recorded row by row and
in the campaign's audit trail, and made again at each approval (nothing has been sent before one).
"""

from __future__ import annotations

import math
import secrets

from django.db.models import Q

from apologies.campaigns.audit import audit_add
from apologies.campaigns.control_models import ControlMember
from apologies.campaigns.models import Campaign, Recipient
from incidents.models import Suppression

# Ledger states and suppression reasons that keep someone out of the control group.
NEVER_IN_CONTROL_STATES = ("complained",)
NEVER_IN_CONTROL_REASONS = (Suppression.Reason.COMPLAINED, Suppression.Reason.NEVER_AGAIN)


def control_eligible(*, campaign: Campaign):
    """The recipients who would get an apology and may be kept out of it."""
    barred = Suppression.objects.filter(reason__in=NEVER_IN_CONTROL_REASONS).values("email")
    return (
        campaign.recipients.exclude(channel=Recipient.Channel.NONE)
        .exclude(Q(state__in=NEVER_IN_CONTROL_STATES) | Q(reason=Recipient.Reason.COMPLAINED))
        .exclude(email__in=barred)
    )


def control_choose(*, campaign: Campaign, user) -> int:
    """Draw the control group for this approval (or clear it when the campaign has none); returns its size."""
    campaign.control_members.all().delete()
    if not campaign.control_group:
        return 0
    eligible = list(control_eligible(campaign=campaign).values_list("id", "email"))
    size = math.floor(len(eligible) * float(campaign.control_percent) / 100)
    chosen = secrets.SystemRandom().sample(eligible, size) if size else []
    ControlMember.objects.bulk_create(
        [ControlMember(campaign=campaign, recipient_id=rid, email=email, chosen_by=user) for rid, email in chosen],
        batch_size=2000,
    )
    audit_add(
        campaign,
        user,
        "control group chosen",
        f"{size} of {len(eligible)} eligible people ({campaign.control_percent}%) get no apology, chosen at "
        "random; never anyone who complained or asked never to be contacted",
    )
    return size
