"""The campaign's audit trail: who did what to it, and when; each entry also goes to the app-wide audit log."""

from __future__ import annotations

from apologies.campaigns.models import AuditEvent, Campaign
from incidents.auditlog.services import audit_record


def audit_add(campaign: Campaign, user, action: str, detail: str = "") -> None:
    """Record `action` on the campaign's page and in the app-wide log (kept when the campaign is deleted)."""
    AuditEvent.objects.create(campaign=campaign, user=user, action=action, detail=detail)
    audit_record(
        user=user, action=f"campaign.{action}", target=f"campaign {campaign.id}: {campaign.name}", detail=detail
    )
