"""Every model of apologies, gathered so Django (and code outside the app) finds them in one place."""

from apologies.api.models import ApiCall, ApiToken
from apologies.campaigns.control_models import ControlMember
from apologies.campaigns.models import AuditEvent, Campaign, CampaignTemplate, CountryPolicy, Recipient
from apologies.feedback.models import DeliveryEvent, Reply
from apologies.letters.models import (
    GiftAssignment,
    GiftPackage,
    GiftReservation,
    Letter,
    LetterBatch,
    LetterPreview,
    LetterPreviewPage,
    LetterSettings,
)
from apologies.letters.providers.models import ProviderEvent, ProviderLetter
from apologies.sending.models import CapturedEmail, Delivery
from apologies.staff.models import StaffPreference
from apologies.wayback.models import Consent

__all__ = [
    "ApiCall",
    "ApiToken",
    "AuditEvent",
    "Campaign",
    "CampaignTemplate",
    "CapturedEmail",
    "Consent",
    "ControlMember",
    "CountryPolicy",
    "Delivery",
    "DeliveryEvent",
    "GiftAssignment",
    "GiftPackage",
    "GiftReservation",
    "Letter",
    "LetterBatch",
    "LetterPreview",
    "LetterPreviewPage",
    "LetterSettings",
    "ProviderEvent",
    "ProviderLetter",
    "Recipient",
    "Reply",
    "StaffPreference",
]
