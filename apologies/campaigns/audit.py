"""The campaign's audit trail: who did what to it, and when."""

from __future__ import annotations

from apologies.campaigns.models import AuditEvent, Campaign


def audit_add(campaign: Campaign, user, action: str, detail: str = "") -> None:
    AuditEvent.objects.create(campaign=campaign, user=user, action=action, detail=detail)
