"""Models of campaigns: country rules, the campaign, its templates, its recipients and its audit trail."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from incidents.models import Contact, Incident

# No 0/O, 1/I/L: a code typed from paper must survive bad handwriting and small print.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


CODE_LENGTH = 8  # 31**8 is about 8.5e11 codes per campaign


def new_short_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


# EU member states, the EEA and the UK: an objection to direct marketing covers marketing by every channel.
EU_UK = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO GB".split()


class CountryPolicy(models.Model):
    """What someone who objected to marketing may receive, per country: each channel a switch with its reason."""

    country = models.CharField(max_length=2, unique=True, help_text="ISO 3166 code, e.g. US, GB, DE.")
    letter_allowed = models.BooleanField(default=True, help_text="An apology letter may be posted to them.")
    letter_reason = models.CharField(max_length=300, blank=True)
    gift_allowed = models.BooleanField(default=False, help_text="Their apology letter may carry a gift.")
    gift_reason = models.CharField(max_length=300, blank=True)
    invite_allowed = models.BooleanField(default=False, help_text="The apology may invite them to sign up again.")
    invite_reason = models.CharField(max_length=300, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["country"]
        verbose_name_plural = "country policies"

    def __str__(self) -> str:
        allowed = [name for name, on in (("letter", self.letter_allowed), ("gift", self.gift_allowed)) if on]
        allowed += ["invitation"] if self.invite_allowed else []
        return f"{self.country}: {', '.join(allowed) or 'nothing'}"


# The signature of a campaign nobody named a signer for: signed in the words' language (campaigns.words).
DEFAULT_SENDER_NAME = gettext_noop("The team")


def default_language() -> str:
    return settings.AMENDS_DEFAULT_LANGUAGE


HEX_COLOR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #b3261e.")


# The settings of careful sending (pilot, waves, thresholds, schedule, control group), as the settings form shows them.
PERCENT = [MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))]
CAREFUL_FIELDS = [
    "pilot",
    "pilot_percent",
    "wave_percent",
    "wave_wait_minutes",
    "max_complaint_percent",
    "max_bounce_percent",
    "schedule",
    "send_at",
    "control_group",
    "control_percent",
]


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted for approval"
        APPROVED = "approved", "Approved"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    # Which status may follow which; anything else is refused.
    TRANSITIONS = {
        Status.DRAFT: {Status.SUBMITTED, Status.CANCELLED},
        Status.SUBMITTED: {Status.APPROVED, Status.DRAFT, Status.CANCELLED},
        Status.APPROVED: {Status.SENDING, Status.DRAFT, Status.APPROVED, Status.CANCELLED},
        Status.SENDING: {Status.PAUSED, Status.COMPLETED, Status.CANCELLED},
        Status.PAUSED: {Status.SENDING, Status.CANCELLED, Status.COMPLETED},
        Status.COMPLETED: set(),
        Status.CANCELLED: set(),
    }
    EDITABLE = {Status.DRAFT, Status.SUBMITTED, Status.APPROVED}

    incident = models.ForeignKey(Incident, models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    audience_tiers = models.JSONField(default=list, blank=True, help_text="Tier numbers; empty for every tier.")
    audience_states = models.JSONField(default=list, blank=True, help_text="Ledger states; empty for all.")
    allow_follow_up = models.BooleanField(
        default=False,
        help_text="Also write to people an earlier campaign of this incident already apologised to.",
    )
    sender_name = models.CharField(max_length=100, default=DEFAULT_SENDER_NAME)
    # The brand people see on the public pages and in the emails; blank falls back to the settings.
    brand_name = models.CharField(max_length=100, blank=True, help_text="Blank: the site's brand name.")
    brand_logo = models.CharField(
        max_length=300, blank=True, help_text="A path under static/ or an https URL; blank: the site's logo."
    )
    brand_color = models.CharField(
        max_length=7, blank=True, validators=[HEX_COLOR], help_text="e.g. #b3261e; blank: the site's colour."
    )
    from_address = models.EmailField(blank=True, help_text="The address emails come from; blank: the site's.")
    postal_address = models.CharField(
        max_length=300, blank=True, help_text="Shown in every email (CAN-SPAM); blank: the site's postal address."
    )
    default_language = models.CharField(
        max_length=10,
        default=default_language,
        help_text="ISO 639 code: the words and pages of people whose contact names no language we have.",
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA zone (e.g. Europe/Paris) for the times of people whose contact names neither a zone nor a "
        "country with one; blank: AMENDS_DEFAULT_PERSON_ZONE.",
    )
    rate_per_second = models.PositiveIntegerField(default=50, help_text="Messages per second, across all workers.")
    pause_after_errors = models.PositiveIntegerField(
        default=10, help_text="Pause by itself after this many failed sends in a row."
    )
    approval_max_age_hours = models.PositiveIntegerField(default=24)
    cost_per_letter = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("1.50"))
    cost_per_gift = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("12.00"))
    gift_tiers = models.JSONField(default=list, blank=True, help_text="Tier numbers whose letters carry a gift.")
    seed_list = models.TextField(blank=True, help_text="Staff addresses that receive test sends, one per line.")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    # What the approval covers, part by part (campaigns.fingerprint): a difference sends it back to draft.
    approved_parts = models.JSONField(default=dict, blank=True, editable=False)
    paused_reason = models.CharField(max_length=500, blank=True)
    # Careful sending (sending.waves, campaigns.control): part of what is approved, like every setting above.
    pilot = models.BooleanField(default=False, help_text="Send to a random pilot share first, then in waves.")
    pilot_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("5"), validators=PERCENT)
    wave_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("25"),
        validators=PERCENT,
        help_text="Share of everyone in each later wave.",
    )
    wave_wait_minutes = models.PositiveIntegerField(
        default=240, help_text="Wait after a wave's last email before the next wave, for complaints to come in."
    )
    max_complaint_percent = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        default=Decimal("0.1"),
        validators=PERCENT,
        help_text="Pause when complaints reach this share of the emails sent.",
    )
    max_bounce_percent = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        default=Decimal("2"),
        validators=PERCENT,
        help_text="Pause when hard bounces reach this share of the emails sent.",
    )
    schedule = models.CharField(
        max_length=10,
        choices=[("now", "As soon as it starts"), ("at", "At a set time"), ("morning", "In each person's morning")],
        default="now",
        help_text="At a set time or in each person's local morning, never at night where they live.",
    )
    send_at = models.DateTimeField(null=True, blank=True, help_text="Not before this time (empty: from the start).")
    control_group = models.BooleanField(
        default=False, help_text="Keep a random share without apology to measure what the apology did."
    )
    control_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("50"))],
    )
    wave_released = models.PositiveSmallIntegerField(default=0, editable=False)
    wave_released_at = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_errors = models.PositiveIntegerField(default=0)
    planned_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        permissions = [
            ("approve_campaign", "Can approve a campaign written by someone else"),
            ("send_campaign", "Can start, pause, resume and cancel sending"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("apologies:detail", args=[self.id])

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE

    def approval_expires_at(self):
        if not self.approved_at:
            return None
        return self.approved_at + timedelta(hours=self.approval_max_age_hours)

    def template_for(self, recipient: Recipient, templates: list[CampaignTemplate] | None = None) -> CampaignTemplate:
        """The recipient's language and tier variant, falling back to the default language, then any tier."""
        templates = templates if templates is not None else list(self.templates.all())
        by_key = {(t.language, t.tier): t for t in templates}
        for key in (
            (recipient.language, recipient.tier),
            (recipient.language, CampaignTemplate.ANY_TIER),
            ("", recipient.tier),
            ("", CampaignTemplate.ANY_TIER),
        ):
            if key in by_key:
                return by_key[key]
        return templates[0]

    def approval_is_stale(self, now=None) -> bool:
        expires = self.approval_expires_at()
        return expires is None or (now or timezone.now()) > expires

    def seed_addresses(self) -> list[str]:
        text = self.seed_list.replace(",", "\n")
        return [line.strip().lower() for line in text.splitlines() if "@" in line]


class CampaignTemplate(models.Model):
    """The words of an apology: a default, and optional variants by language and by tier."""

    ANY_TIER = -1

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="templates")
    language = models.CharField(max_length=10, blank=True, help_text="Empty for the default language.")
    tier = models.SmallIntegerField(default=ANY_TIER)
    subject = models.CharField(max_length=300)
    text_body = models.TextField()
    html_body = models.TextField(blank=True)
    letter_body = models.TextField(blank=True)
    invitation = models.TextField(
        blank=True,
        help_text="Shown only where the country's policy allows inviting people back; may use resubscribe_url "
        "and short_code.",
    )
    # The incident's words and the signer are written once, in the campaign's default language: a variant in
    # another language says them in its own, or its emails and letters would mix two languages.
    what_happened = models.TextField(blank=True, help_text="Blank: the incident's words.")
    the_fix = models.TextField(blank=True, help_text="Blank: the incident's words.")
    sender_name = models.CharField(max_length=100, blank=True, help_text="Blank: the campaign's sender name.")

    class Meta:
        ordering = ["language", "tier"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "language", "tier"], name="template_unique_variant"),
        ]

    def __str__(self) -> str:
        return f"{self.language or 'default'} / {'any tier' if self.tier == self.ANY_TIER else f'tier {self.tier}'}"


class Recipient(models.Model):
    """One person of a campaign's audience, the channel chosen for them and why."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        LETTER = "letter", "Letter"
        NONE = "none", "None"

    class Reason(models.TextChoices):
        SUBSCRIBED = "subscribed", "Still subscribed and deliverable"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        COMPLAINED = "complained", "Complained"
        BOUNCED = "bounced", "Bounced or blocked"
        SUPPRESSED = "suppressed", "On the suppression list"
        ALREADY = "already_apologised", "Already apologised in another campaign"
        OVERRIDE = "override", "Set by hand"

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="recipients")
    email = models.CharField(max_length=254)
    contact = models.ForeignKey(Contact, models.SET_NULL, null=True, blank=True, related_name="+")
    messages = models.IntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    max_in_10_min = models.IntegerField()
    state = models.CharField(max_length=16)
    tier = models.SmallIntegerField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    detail = models.CharField(max_length=300, blank=True)
    # May the apology invite this person back? Only asked of people who objected (country policy).
    invite_allowed = models.BooleanField(default=True)
    gift = models.BooleanField(default=False)
    language = models.CharField(max_length=10, blank=True)
    short_code = models.CharField(max_length=9)
    override_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-messages", "email"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "email"], name="recipient_unique_email"),
            models.UniqueConstraint(fields=["campaign", "short_code"], name="recipient_unique_code"),
        ]
        indexes = [models.Index(fields=["campaign", "channel", "reason"], name="recipient_channel")]

    def __str__(self) -> str:
        return self.email

    @property
    def first_name(self) -> str:
        return self.contact.first_name if self.contact else ""

    @property
    def last_name(self) -> str:
        return self.contact.last_name if self.contact else ""


class AuditEvent(models.Model):
    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="audit")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=50)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class CampaignError(Exception):
    """A refused action, with the reason for the person who asked."""
