"""Models of letters: gift packages and reservations, letter settings, batches and the letters in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apologies.campaigns.models import Campaign, Recipient
from apologies.sending.models import Delivery


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


class PrintProfile(models.Model):
    """What one mail house takes: the PDF flavour, how black is written, and the marks on each sheet."""

    class Variant(models.TextChoices):
        PDF = "", "Plain PDF"
        PDF_X4 = "pdf/x-4", "PDF/X-4"

    class Black(models.TextChoices):
        RGB = "rgb", "RGB black"
        CMYK = "cmyk", "CMYK black (0/0/0/100)"

    name = models.CharField(max_length=100, unique=True, help_text="The mail house, e.g. Lob or PostHouse Berlin.")
    pdf_variant = models.CharField("PDF", max_length=10, choices=Variant.choices, default="", blank=True)
    black = models.CharField(max_length=4, choices=Black.choices, default=Black.RGB)
    sequence_marks = models.BooleanField(
        default=True, help_text='A small mark on each sheet, outside the windows: "000123 1/2" (letter, sheet).'
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def snapshot(self) -> dict:
        return {"name": self.name, "pdf_variant": self.pdf_variant, "black": self.black, "marks": self.sequence_marks}


PLAIN_PROFILE = {"name": "plain PDF", "pdf_variant": "", "black": "rgb", "marks": True}


def address_lines(text: str) -> list[str]:
    """An address as it prints: its lines, trimmed, blank ones left out."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def return_address_problem(return_address: str) -> str:
    """Why the post could not return a letter sent from this address, or "" when it could.

    The one rule for submitting, approving and rendering: each refuses what the next step would, so a campaign
    cannot be approved and started with letters that can never print (the settings lock once sending starts).
    """
    if len(address_lines(return_address)) < 2:
        return (
            "Add the return address on the campaign's Letters page (Paper, sender and budget): the sender's name, "
            "then the street and the city line, one per line. A letter the post cannot return is lost."
        )
    return ""


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
    envelope = models.CharField(
        max_length=8,
        blank=True,
        choices=[("us10", "#10 double window"), ("dl", "DL"), ("c5", "C5"), ("c6", "C6")],
        help_text="Empty: a #10 for US Letter, DL for A4.",
    )
    logo = models.CharField(
        max_length=200, blank=True, help_text="The brand's logo for letters, a file under static/; empty: the default."
    )
    sender_title = models.CharField(
        max_length=100, blank=True, help_text="Printed under the signature, e.g. Head of Customer Care."
    )
    print_profile = models.ForeignKey(
        PrintProfile, models.SET_NULL, null=True, blank=True, related_name="+", help_text="Empty: plain PDF."
    )

    class Meta:
        verbose_name_plural = "letter settings"

    def __str__(self) -> str:
        return f"letters of {self.campaign}"

    @classmethod
    def unsaved_default(cls, campaign: Campaign) -> LetterSettings:
        """What a campaign's settings are before anyone saves them: the row made when they are first read."""
        lines = [settings.AMENDS_BRAND_NAME, settings.AMENDS_LETTERS_RETURN_ADDRESS]
        return cls(campaign=campaign, return_address="\n".join(line for line in lines if line))


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
    envelope = models.CharField(max_length=8, blank=True)
    print_profile = models.JSONField(default=dict, blank=True, help_text="The mail house's profile when batched.")
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


class LetterHold(models.Model):
    """A letter taken out of its batch after layout (a glyph no font has): kept out until the contact changes."""

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="+")
    delivery = models.OneToOneField(Delivery, models.CASCADE, related_name="letter_hold")
    reason = models.CharField(max_length=500)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.delivery_id} held: {self.reason}"


class LetterPreview(models.Model):
    """One person's letter drawn by a worker for a look before approval: the PDF and each page as a PNG.

    Drawing runs in a Celery worker under a time limit, never in a web request; `version` is a digest of
    everything the letter is made of, so a preview of words or an address that have since changed is not shown.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "waiting for a worker"
        RENDERING = "rendering", "being drawn"
        READY = "ready", "ready"
        FAILED = "failed", "failed"

    recipient = models.OneToOneField(Recipient, models.CASCADE, related_name="letter_preview")
    version = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    pdf = models.BinaryField(default=b"", editable=False)
    error = models.CharField(max_length=500, blank=True)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"letter preview for recipient {self.recipient_id}: {self.status}"


class LetterPreviewPage(models.Model):
    """One page of a drawn preview, as a PNG at screen resolution."""

    preview = models.ForeignKey(LetterPreview, models.CASCADE, related_name="pages")
    number = models.PositiveSmallIntegerField()
    png = models.BinaryField(editable=False)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["preview", "number"], name="preview_page_number")]
