"""The letter itself, laid out by WeasyPrint from one template and one stylesheet; letter settings and previews.

A batch is one PDF: letters are laid out in chunks (so progress can be recorded) and their pages written
out together, because embedding and subsetting the fonts is a fixed cost per PDF document.
"""

from __future__ import annotations

import base64
import io
import logging
import mimetypes
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nh3
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.html import escape, linebreaks
from django.utils.safestring import mark_safe
from PIL import Image
from weasyprint import CSS
from weasyprint.formatting_structure.boxes import TextBox
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from apologies import links
from apologies.campaigns import lifecycle, locales, templating, words
from apologies.campaigns.models import Campaign, CampaignError, CampaignTemplate, Recipient
from apologies.letters import glyphs, qr
from apologies.letters.addressing import text_direction, window_lines
from apologies.letters.collector import few_collections, keep_laid_out
from apologies.letters.html_tree import LettersHTML
from apologies.letters.models import PLAIN_PROFILE, GiftPackage, LetterSettings, address_lines
from apologies.letters.paper import (
    ADDRESS_SIZES,
    PT_PER_IN,
    PT_PER_MM,
    Envelope,
    Fit,
    address_fit,
    envelope_for,
    return_fit,
)

log = logging.getLogger(__name__)
LAYOUT_CHUNK = 50  # letters laid out per step: progress is recorded after each


TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates" / "apologies" / "letters"


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
            embed_check(url)
            return super().fetch(url, headers)
        raise ValueError(f"letters may only use the app's own static files, not {url[:100]}")


# What a letter may embed: bounded, so one pasted image cannot hold a render worker (an SVG whose <use>
# elements fan out took 117 s and 1.8 GB; a decompression bomb PNG would be worse).
MAX_EMBED_BYTES = 5 * 1024 * 1024
MAX_EMBED_PIXELS = 40_000_000


def embed_check(url: str) -> None:
    """Refuse a data: URL that is SVG, larger than MAX_EMBED_BYTES, or an image over MAX_EMBED_PIXELS.

    Raises ValueError naming the limit; WeasyPrint then leaves the image out of the page.
    """
    header, _, payload = url[5:].partition(",")
    if "svg" in header.lower():
        raise ValueError("letters may not embed SVG images: use a PNG or JPEG at 300 ppi")
    if len(payload) * 3 // 4 > MAX_EMBED_BYTES:
        raise ValueError(f"an embedded image is over {MAX_EMBED_BYTES // 1024 // 1024} MB")
    if header.lower().endswith(";base64") and header.lower().startswith("image/"):
        try:
            with Image.open(io.BytesIO(base64.b64decode(payload))) as image:
                width, height = image.size
        except (ValueError, OSError) as e:
            raise ValueError(f"an embedded image cannot be read: {e}") from e
        if width * height > MAX_EMBED_PIXELS:
            raise ValueError(f"an embedded image has {width} x {height} pixels: at most {MAX_EMBED_PIXELS:,}")


# Marketer HTML for paper: prose only. A style such as position: fixed would print one person's
# words on every page of a 500-letter batch, so <style> and layout properties are removed.
LETTER_TAGS = {
    "a", "b", "blockquote", "br", "caption", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "img", "li", "ol",
    "p", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip


LETTER_ATTRIBUTES = {"*": {"style"}, "a": {"href"}, "img": {"src", "alt", "width", "height"}, "td": {"colspan"}}


# width and height stay: an image scaled down to print at 300 ppi needs its width.
LETTER_STYLES = {
    "color", "font-size", "font-style", "font-weight", "height", "letter-spacing", "line-height", "margin-bottom",
    "margin-top", "max-width", "text-align", "text-decoration", "width",
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


def letter_settings(campaign: Campaign) -> LetterSettings:
    found, _ = LetterSettings.objects.get_or_create(
        campaign=campaign, defaults={"return_address": LetterSettings.unsaved_default(campaign).return_address}
    )
    return found


def sender_lines(ls: LetterSettings) -> list[str]:
    return address_lines(ls.return_address)


def letter_envelope(ls: LetterSettings) -> Envelope:
    return envelope_for(page_size=ls.page_size, envelope=ls.envelope)


def logo_path(ls: LetterSettings) -> str:
    """The logo's path under static/: the campaign's, else the settings' (the letters' own, then the brand's)."""
    for logo in (ls.logo, settings.AMENDS_LETTERS_LOGO, settings.AMENDS_BRAND_LOGO):
        relative = (logo or "").lstrip("/").removeprefix("static/")
        if relative and "://" not in relative and static_file(relative):
            return relative
    return ""


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
    lifecycle.campaign_edited(campaign=campaign, user=user, what="letters: " + ", ".join(changed))


def easy_url() -> str:
    """The address printed large for people to type: host and path, no scheme."""
    try:
        path = reverse("sorry")
    except NoReverseMatch:
        path = settings.AMENDS_SORRY_PATH
    host = urlsplit(settings.SITE_URL).netloc.removeprefix("www.")
    return host + path.rstrip("/")


@dataclass
class LetterInput:
    """One letter to lay out: the person and what their envelope window shows (and where: None = work it out)."""

    recipient: Recipient
    sequence: int
    lines: list[str]
    fit: Fit | None = None


INVITATION = re.compile(r"\{\{\s*invitation\s*\}\}")
SIGNED = re.compile(r"\{\{\s*sender_name")
# Where the page's content box starts (top, left), so head boxes can be placed from the sheet's edge.
MARGINS = {"us": (0.5 * PT_PER_IN, 0.75 * PT_PER_IN), "a4": (12 * PT_PER_MM, 25 * PT_PER_MM)}


def pt(value: float) -> str:
    return f"{value:.2f}pt"


class LetterWriter:
    """Builds letter HTML for one campaign: templates, settings and cleaned words are read once."""

    def __init__(self, campaign: Campaign, *, day: date | None = None) -> None:
        self.campaign = campaign
        self.ls = letter_settings(campaign)
        self.envelope = letter_envelope(self.ls)
        self.profile = (self.ls.print_profile.snapshot() if self.ls.print_profile_id else None) or PLAIN_PROFILE
        self.templates = list(campaign.templates.all())
        self.sender = sender_lines(self.ls)
        self.day = day or timezone.localdate()
        self.easy_url = easy_url()
        logo = logo_path(self.ls)
        self.logo = static_base_url() + logo if logo else ""
        self.packages: dict[int, GiftPackage] = {
            a.tier: a.package for a in campaign.gift_assignments.select_related("package")
        }
        self._bodies: dict[int, str] = {}
        # The document's language: a letter in it needs no lang of its own (see box_class).
        self.language = locales.page_language(campaign.default_language)
        self._box_classes: dict[str, str] = {}
        color = settings.AMENDS_BRAND_COLOR
        self.brand_color = color if re.fullmatch(r"#[0-9a-fA-F]{3,8}", color or "") else "#000"

    def use(self, *, page_size: str, envelope: str, duplex: bool, profile: dict | None = None) -> None:
        """Print as a batch was made: its paper, envelope and mail house, whatever the settings say now."""
        self.ls.page_size, self.ls.envelope, self.ls.duplex = page_size, envelope, duplex
        self.envelope = letter_envelope(self.ls)
        self.profile = profile or PLAIN_PROFILE

    @property
    def page(self) -> str:
        return "a4" if self.envelope.page_size == LetterSettings.PageSize.A4 else "us"

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
        text_values, html_values = words.values_for(self.campaign, recipient, template)
        for name in ("first_name", "last_name"):
            if text_direction(html_values[name]) == "rtl":
                html_values[name] = mark_safe(f'<bdi dir="rtl">{escape(html_values[name])}</bdi>')
        if text_values["invitation"]:
            # On paper the personal link is a QR code; the words name the short address people can type.
            paper = dict(text_values, resubscribe_url=self.easy_url, short_code=recipient.short_code)
            invitation = templating.render(template.invitation, paper, as_html=True)
            html_values["invitation"] = mark_safe(
                render_to_string(
                    "apologies/letters/way_back.html",
                    {
                        "qr": qr.qr_data_uri(links.resubscribe_url(recipient)),
                        "invitation": mark_safe(linebreaks(invitation, autoescape=False)),
                        "easy_url": self.easy_url,
                        "short_code": recipient.short_code,
                    },
                )
            )
            html_values["resubscribe_url"] = self.easy_url
        return html_values

    def fit(self, item: LetterInput) -> Fit:
        fit = item.fit or address_fit(item.lines, self.envelope)
        if fit.size is None:  # a preview of an address that will be held: print it where it would go
            zone = self.envelope.zone
            fit = Fit(ADDRESS_SIZES[-1], fit.problem, max(zone.left, self.envelope.text_left), zone.top, zone.width)
        return fit

    def box_class(self, style: str) -> str:
        """A class for these declarations, written once into the document's stylesheet (see document).

        WeasyPrint computes one style for elements whose declarations, rules and parent's style are the same, but
        a style attribute, an id or a lang is new for every element, for it and every element inside it: the
        letters' heads placed with style attributes cost a style (and its computed values) per box and letter,
        about a fifth of the layout. The rule is author CSS, like the attribute was, so it wins over letter.css.
        """
        if style not in self._box_classes:
            self._box_classes[style] = f"box-{len(self._box_classes) + 1}"
        return self._box_classes[style]

    def head(self, item: LetterInput) -> dict:
        """Boxes of the first page, placed from the sheet's top-left corner (the head is at the page margins)."""
        top, left = MARGINS[self.page]
        fit = self.fit(item)
        address = (
            f"left: {pt(fit.left - left)}; top: {pt(fit.css_top - top)}; width: {pt(fit.width)}; "
            f"font-size: {fit.size:g}pt"
        )
        back = return_fit(self.sender, self.envelope)
        if back.size is None:
            zone = self.envelope.return_zone or self.envelope.zone
            back = Fit(8.0, back.problem, zone.left, zone.top, zone.width)
        sender = (
            f"left: {pt(back.left - left)}; top: {pt(back.css_top - top)}; width: {pt(back.width)}; "
            f"font-size: {back.size:g}pt"
        )
        return {
            "address_class": self.box_class(address),
            "sender_class": self.box_class(sender),
            "head_class": self.box_class(f"height: {pt(self.envelope.body_top - top)}"),
            "lines": [(line, text_direction(line)) for line in item.lines],
        }

    def gift(self, recipient: Recipient) -> GiftPackage | None:
        return self.packages.get(recipient.tier) if recipient.gift else None

    def html(self, item: LetterInput) -> str:
        recipient = item.recipient
        template = self.campaign.template_for(recipient, self.templates)
        # The fixed words and the date in the language of the letter's words, as the reader's country writes it.
        language = words.words_language(self.campaign, template)
        with translation.override(language):
            return self._html(item, recipient, template, language)

    def _html(self, item: LetterInput, recipient: Recipient, template: CampaignTemplate, language: str) -> str:
        body_template = self._body_template(template)
        body = templating.render(body_template, self.values(recipient, template), as_html=True)
        country = recipient.contact.country if recipient.contact else self.ls.return_country
        brand = self.sender[0] if self.sender else settings.AMENDS_BRAND_NAME
        return render_to_string(
            "apologies/letters/letter.html",
            {
                # Only where it differs from the document's: a lang attribute keeps the letter from sharing styles.
                "language": language if language != self.language else "",
                "direction": locales.language_direction(language),
                "brand_dir": locales.text_direction(brand),
                "page": self.page,
                "sequence": item.sequence,
                "mark": f"{item.sequence:06d} 1/1",
                "sender": self.sender,
                "date": locales.format_day(self.day, language=language, country=country),
                "logo": self.logo,
                "brand": brand,
                "body": mark_safe(body),
                "gift": self.gift(recipient),
                "signed": bool(SIGNED.search(body_template)),
                "signer": words.sender_name_for(self.campaign, template),
                "signer_title": self.ls.sender_title,
                **self.head(item),
            },
        )

    def document(self, letters: Iterable[str]) -> str:
        title = escape(f"{self.campaign.name}: letters")
        body = "".join(letters)  # first: the letters name the box classes the style defines
        style = f":root {{ --brand: {self.brand_color} }} "
        style += "".join(f".{name} {{ {rule} }} " for rule, name in self._box_classes.items())
        if self.profile.get("marks", True):
            style += "@page us-letter { @bottom-left { content: string(mark) } } "
            style += "@page din-a4 { @bottom-left { content: string(mark) } } "
        if self.profile.get("black") == "cmyk":
            # Black ink only, never RGB black a press turns into four colours: text, rules and the sheet marks.
            ink = "device-cmyk(0 0 0 1)"
            style += f"html, html * {{ color: {ink}; }} .way-back {{ border-color: {ink}; }} "
            style += ".fold { border-color: device-cmyk(0 0 0 0.55); } "
            for page in ("us-letter", "din-a4"):
                style += f"@page {page} {{ @bottom-left {{ color: {ink} }} }} "
        return (
            f'<!doctype html><html lang="{self.language}"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{style}</style></head><body>{body}</body></html>"
        )


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
        self._icc: CSS | None = None

    def icc(self) -> CSS | None:
        """The output intent for PDF/X: the ICC profile named in the settings, once per process."""
        path = settings.AMENDS_LETTERS_ICC_PROFILE
        if path and self._icc is None:
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            self._icc = CSS(
                string=f"@color-profile device-cmyk {{ src: url(data:application/vnd.iccprofile;base64,{data}) }}",
                url_fetcher=self.fetcher,
            )
        return self._icc if path else None

    def layout(self, html: str, *, pdf_x: bool = False):
        sheets = [self.css]
        if pdf_x and self.icc() is not None:
            sheets.append(self.icc())
        return LettersHTML(string=html, base_url=static_base_url(), url_fetcher=self.fetcher).render(
            font_config=self.font_config, stylesheets=sheets
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
    """Letters laid out: every page in order, each letter's first and last page (1-based, blank back included),
    and the letters taken out because a character would print as an empty box."""

    pages: list = field(default_factory=list)
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    missing: dict[int, str] = field(default_factory=dict)
    first_document: object = None
    profile: dict = field(default_factory=lambda: dict(PLAIN_PROFILE))


def mark_pages(pages: list, sequence: int, *, duplex: bool) -> None:
    """Write "000123 k/n" (sheet k of the letter's n) into each page's mark, laid out as "000123 1/1"."""
    sheets = (len(pages) + 1) // 2 if duplex else len(pages)
    for n, page in enumerate(pages):
        sheet = n // 2 + 1 if duplex else n + 1
        text = f"{sequence:06d} {sheet}/{sheets}"
        for child in page._page_box.children:  # noqa: SLF001 - the laid-out tree WeasyPrint draws from
            if getattr(child, "at_keyword", "") == "@bottom-left":
                for box in child.descendants():
                    if isinstance(box, TextBox) and box.text.startswith(f"{sequence:06d} "):
                        # Drawing re-shapes the text from here (the layout sleeps between layout and drawing).
                        box.text = box.pango_layout.text = text


def letters_layout(writer: LetterWriter, items: list[LetterInput], *, duplex: bool, on_chunk=None) -> Laid:
    """Lay out letters in chunks; with duplex, a blank back after every letter that ends on a front.

    After layout, a letter with a character no font has is left out (its sequence in `missing`), never printed
    with an empty box in the window or the greeting.
    """
    with few_collections():
        return _letters_layout(writer, items, duplex=duplex, on_chunk=on_chunk)


def _letters_layout(writer: LetterWriter, items: list[LetterInput], *, duplex: bool, on_chunk) -> Laid:
    r = renderer()
    pdf_x = writer.profile.get("pdf_variant") == "pdf/x-4"
    laid = Laid(profile=writer.profile)
    for start in range(0, len(items), LAYOUT_CHUNK):
        chunk = items[start : start + LAYOUT_CHUNK]
        doc = r.layout(writer.document(writer.html(item) for item in chunk), pdf_x=pdf_x)
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
            pages = doc.pages[begin:end]
            missing = "".join(dict.fromkeys("".join(glyphs.page_missing(p) for p in pages)))
            if missing:
                laid.missing[item.sequence] = missing
                continue
            if len(pages) > 1 and writer.profile.get("marks", True):
                mark_pages(pages, item.sequence, duplex=duplex)
            first = len(laid.pages) + 1
            laid.pages.extend(pages)
            if duplex and len(pages) % 2:
                laid.pages.append(r.blank_page(writer.page))
            laid.spans[item.sequence] = (first, len(laid.pages))
        keep_laid_out()
        if on_chunk is not None:
            on_chunk(start + len(chunk))
    return laid


def laid_pdf(laid: Laid, *, title: str) -> bytes:
    document = laid.first_document.copy(laid.pages)
    document.metadata.title = title
    with few_collections():
        if laid.profile.get("pdf_variant"):
            return document.write_pdf(pdf_variant=laid.profile["pdf_variant"])
        return document.write_pdf()


def letter_laid(*, recipient: Recipient) -> Laid:
    """One person's letter laid out as it would print today."""
    campaign = recipient.campaign
    ls = letter_settings(campaign)
    contact = recipient.contact
    if contact is None:
        raise CampaignError(f"{recipient.email} has no postal address: there is no letter to show.")
    lines = window_lines(contact, sender_country=ls.return_country)
    writer = LetterWriter(campaign)
    laid = letters_layout(writer, [LetterInput(recipient=recipient, sequence=0, lines=lines)], duplex=False)
    if laid.missing:
        raise CampaignError(f"This letter is held: no installed font prints {glyphs.describe(laid.missing[0])}.")
    return laid


def letter_pages(*, recipient: Recipient) -> list:
    return letter_laid(recipient=recipient).pages


def letter_preview(*, recipient: Recipient) -> bytes:
    """One person's letter as it would print today, for a look before approval."""
    laid = letter_laid(recipient=recipient)
    contact = recipient.contact
    return laid_pdf(laid, title=f"{recipient.campaign.name}: letter to {contact.name or recipient.email} (preview)")
