from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from incidents.models import Contact, Incident

# No 0/O, 1/I/L: a code typed from paper must survive bad handwriting and small print.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8  # 31**8 is about 8.5e11 codes per campaign


def new_short_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


# EU member states, the EEA and the UK: an objection to direct marketing covers every channel.
EU_UK = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO GB".split()


class CountryPolicy(models.Model):
    """May an apology to someone who objected to marketing invite them to sign up again?"""

    country = models.CharField(max_length=2, unique=True, help_text="ISO 3166 code, e.g. US, GB, DE.")
    invite_allowed = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["country"]
        verbose_name_plural = "country policies"

    def __str__(self) -> str:
        return f"{self.country}: {'invitation allowed' if self.invite_allowed else 'apology only'}"


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
    sender_name = models.CharField(max_length=100, default="The team")
    default_language = models.CharField(max_length=10, default="en")
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
    paused_reason = models.CharField(max_length=500, blank=True)
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


class Delivery(models.Model):
    """One apology to one person by one channel: the unit that must happen exactly once."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped: suppressed at send time"
        REVIEW = "review", "Needs review"
        CANCELLED = "cancelled", "Cancelled"

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(Recipient, models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(Incident, models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)
    channel = models.CharField(max_length=10, choices=Recipient.Channel.choices)
    follow_up = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    esp_message_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # What the ESP's tracking webhooks told us afterwards.
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "recipient", "channel"], name="delivery_once_per_channel"),
            # One apology per person per incident, unless a campaign explicitly allows a follow-up.
            models.UniqueConstraint(
                fields=["incident", "email"], condition=Q(follow_up=False), name="delivery_once_per_incident"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "channel", "status"], name="delivery_status")]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.email} ({self.channel}, {self.status})"


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


class CapturedEmail(models.Model):
    """Email kept instead of sent, on the embedded default: the outbox a newcomer can read."""

    to = models.TextField()
    from_email = models.CharField(max_length=300)
    subject = models.CharField(max_length=500)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.subject


class DeliveryEvent(models.Model):
    """One tracking event from the ESP's webhook; the ESP's event id makes a replay count once."""

    delivery = models.ForeignKey(Delivery, models.SET_NULL, null=True, blank=True, related_name="events")
    esp_event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=30)
    recipient = models.CharField(max_length=254, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    description = models.CharField(max_length=500, blank=True)
    raw = models.JSONField(default=dict)
    applied = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.recipient}"


class Reply(models.Model):
    """An answer to an apology: by email (inbound webhook), or logged by staff after a call or a letter."""

    class Kind(models.TextChoices):
        THANKS = "thanks", "Thank you"
        NEVER_AGAIN = "never_again", "Never email me again"
        COMPLAINT = "complaint", "Complaint"
        QUESTION = "question", "Question"
        AUTO_REPLY = "auto_reply", "Auto-reply / out of office"
        OTHER = "other", "Other"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        POST = "post", "Post"

    class Match(models.TextChoices):
        REPLY_TO = "reply_to", "Reply-To address"
        REFERENCES = "references", "In-Reply-To / References"
        SENDER = "sender", "Sender address"
        STAFF = "staff", "Logged by staff"
        NONE = "none", "Not matched"

    campaign = models.ForeignKey(Campaign, models.CASCADE, null=True, blank=True, related_name="replies")
    delivery = models.ForeignKey(Delivery, models.SET_NULL, null=True, blank=True, related_name="replies")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    matched_by = models.CharField(max_length=12, choices=Match.choices, default=Match.NONE)
    from_email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    message_id = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.OTHER)
    kind_set_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "replies"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.from_email or 'someone'}"


class Consent(models.Model):
    """What a person chose on the public page, with the evidence a regulator would ask for."""

    class Choice(models.TextChoices):
        RESUBSCRIBE = "resubscribe", "Subscribed again"
        STAY = "stay_unsubscribed", "Stayed unsubscribed"
        NEVER = "never_again", "Never contact me again"

    class Via(models.TextChoices):
        EMAIL_LINK = "email_link", "Link in an email"
        LETTER_LINK = "letter_link", "Link or QR code in a letter"
        LETTER_CODE = "letter_code", "Code typed from a letter"

    recipient = models.ForeignKey(Recipient, models.CASCADE, related_name="consents")
    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="consents")
    email = models.CharField(max_length=254)
    choice = models.CharField(max_length=20, choices=Choice.choices)
    via = models.CharField(max_length=12, choices=Via.choices)
    channel = models.CharField(max_length=10, choices=Recipient.Channel.choices)
    text_shown = models.TextField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    # Double opt-in: a re-signup from a typed code counts once the confirmation email is clicked.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # A double POST, or a second click, records one choice of each kind per person and campaign.
            models.UniqueConstraint(fields=["recipient", "choice"], name="consent_once_per_choice"),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.get_choice_display()}"

    @property
    def counts(self) -> bool:
        return self.choice != self.Choice.RESUBSCRIBE or self.confirmation_sent_at is None or bool(self.confirmed_at)


# Printed letters (issue 4): gift packages, budget, batches for the mail house.


class GiftPackage(models.Model):
    """A parcel the mail house packs with a letter; stock is what is on hand in the warehouse."""

    name = models.CharField(max_length=100)
    sku = models.CharField("SKU", max_length=40, unique=True)
    items = models.TextField(blank=True, help_text="One item per line, e.g. a chocolate rose.")
    unit_cost = models.DecimalField(max_digits=8, decimal_places=2)
    stock = models.PositiveIntegerField(default=0, help_text="On hand.")
    # Held for approved campaigns: changed only by conditional UPDATEs, so two approvals cannot share a box.
    reserved = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    @property
    def available(self) -> int:
        return self.stock - self.reserved

    def item_list(self) -> list[str]:
        return [line.strip() for line in self.items.splitlines() if line.strip()]


class LetterSettings(models.Model):
    """How a campaign's letters look and what they may cost. One per campaign, made when first needed."""

    class PageSize(models.TextChoices):
        LETTER = "letter", "US Letter (8.5 x 11 in), #10 double-window envelope"
        A4 = "a4", "A4, DL/C5 window envelope (DIN 5008 form B)"

    campaign = models.OneToOneField(Campaign, models.CASCADE, related_name="letter_settings")
    page_size = models.CharField(max_length=10, choices=PageSize.choices, default=PageSize.LETTER)
    return_address = models.TextField(
        blank=True, help_text="The sender's postal address as it should print, one line per line, name first."
    )
    return_country = models.CharField(
        max_length=2, default="US", help_text="Where the letters are posted from: others get their country's name."
    )
    budget = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="Letters and gifts; empty for no limit."
    )
    budget_reserved = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True, editable=False)
    batch_size = models.PositiveIntegerField(default=500, help_text="Letters per PDF for the mail house.")
    duplex = models.BooleanField(default=True, help_text="Printed on both sides: every letter starts on a new sheet.")

    class Meta:
        verbose_name_plural = "letter settings"

    def __str__(self) -> str:
        return f"letters of {self.campaign}"


class GiftAssignment(models.Model):
    """Which package the letters of one tier carry; no row means no package for that tier."""

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="gift_assignments")
    tier = models.SmallIntegerField()
    package = models.ForeignKey(GiftPackage, models.PROTECT, related_name="assignments")

    class Meta:
        ordering = ["tier"]
        constraints = [models.UniqueConstraint(fields=["campaign", "tier"], name="gift_once_per_tier")]

    def __str__(self) -> str:
        return f"tier {self.tier}: {self.package}"


class GiftReservation(models.Model):
    """Stock held for an approved campaign, until the letters are mailed or the approval goes."""

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="gift_reservations")
    package = models.ForeignKey(GiftPackage, models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "package"], name="reservation_once_per_package")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.package} for {self.campaign}"


class LetterBatch(models.Model):
    """One merged PDF and its manifest for the mail house."""

    class Status(models.TextChoices):
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        DOWNLOADED = "downloaded", "Downloaded"
        MAILED = "mailed", "Mailed"
        FAILED = "failed", "Failed"

    TRANSITIONS = {
        Status.RENDERING: {Status.READY, Status.FAILED},
        Status.READY: {Status.DOWNLOADED, Status.MAILED},
        Status.DOWNLOADED: {Status.MAILED},
        Status.MAILED: set(),
        Status.FAILED: {Status.RENDERING},
    }

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="letter_batches")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RENDERING)
    page_size = models.CharField(max_length=10, choices=LetterSettings.PageSize.choices)
    duplex = models.BooleanField(default=True)
    letters_count = models.PositiveIntegerField(default=0)
    rendered = models.PositiveIntegerField(default=0, help_text="Letters laid out so far.")
    pages = models.PositiveIntegerField(default=0)
    sheets = models.PositiveIntegerField(default=0)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    pdf = models.FileField(upload_to="letters/", blank=True)
    archive = models.FileField(upload_to="letters/", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    mailed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="batch_number_per_campaign")]
        verbose_name_plural = "letter batches"

    def __str__(self) -> str:
        return f"batch {self.number} of {self.campaign}"

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]

    @property
    def percent(self) -> int:
        if self.status != self.Status.RENDERING:
            return 100 if self.status != self.Status.FAILED else 0
        return int(100 * self.rendered / self.letters_count) if self.letters_count else 0

    def file_stem(self) -> str:
        return f"campaign-{self.campaign_id}-batch-{self.number:03d}"


class Letter(models.Model):
    """One printed letter: where it sits in its batch, and what was printed on the envelope's window."""

    batch = models.ForeignKey(LetterBatch, models.CASCADE, related_name="letters")
    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="+")
    delivery = models.OneToOneField(Delivery, models.CASCADE, related_name="letter")
    recipient = models.ForeignKey(Recipient, models.CASCADE, related_name="+")
    # Numbered across the campaign, so a returns file naming sequences needs no batch.
    sequence = models.PositiveIntegerField()
    first_page = models.PositiveIntegerField(null=True, blank=True)
    last_page = models.PositiveIntegerField(null=True, blank=True)
    name = models.CharField(max_length=200)
    address = models.TextField(help_text="The lines in the window, one per line.")
    country = models.CharField(max_length=2)
    postal_code = models.CharField(max_length=20, blank=True)
    gift_sku = models.CharField(max_length=40, blank=True)
    short_code = models.CharField(max_length=9)
    returned_at = models.DateTimeField(null=True, blank=True)
    return_note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["sequence"]
        constraints = [models.UniqueConstraint(fields=["campaign", "sequence"], name="letter_sequence_per_campaign")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.name}"

    def address_lines(self) -> list[str]:
        return self.address.split("\n")
