"""Receivers that re-check approvals when a row they cover is saved or deleted anywhere (admin, shell, imports).

Incidents cannot know about campaigns (they are the lower app), so an edited incident, country rule,
template, gift assignment or letter setting announces itself through Django's model signals instead.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apologies.campaigns import lifecycle
from apologies.campaigns.models import Campaign, CampaignTemplate, CountryPolicy
from apologies.letters.models import GiftAssignment, LetterSettings
from incidents.models import Incident


@receiver(post_save, sender=Incident)
def incident_saved(sender, instance: Incident, **kwargs) -> None:
    lifecycle.campaigns_recheck(campaigns=Campaign.objects.filter(incident=instance))


@receiver([post_save, post_delete], sender=CountryPolicy)
def country_rule_changed(sender, instance: CountryPolicy, **kwargs) -> None:
    lifecycle.campaigns_recheck(campaigns=Campaign.objects.all())


def _campaign_going(origin) -> bool:
    """Is this deletion part of deleting the campaign itself (or its incident)? Its parts go first, while the
    campaign row still exists: a re-check then would audit a campaign about to vanish, an audit row whose
    campaign is gone when the deletion commits (the whole deletion failed)."""
    model = origin.model if isinstance(origin, QuerySet) else type(origin)
    return issubclass(model, (Campaign, Incident))


@receiver([post_save, post_delete], sender=CampaignTemplate)
@receiver([post_save, post_delete], sender=GiftAssignment)
@receiver([post_save, post_delete], sender=LetterSettings)
def campaign_part_changed(sender, instance, origin=None, **kwargs) -> None:
    if origin is not None and _campaign_going(origin):
        return
    lifecycle.campaigns_recheck(campaigns=Campaign.objects.filter(id=instance.campaign_id))
