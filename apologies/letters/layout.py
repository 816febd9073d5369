"""The letter itself, laid out by WeasyPrint from one template and one stylesheet; letter settings and previews.

A batch is one PDF: letters are laid out in chunks (so progress can be recorded) and their pages written
out together, because embedding and subsetting the fonts is a fixed cost per PDF document.
"""

from __future__ import annotations

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
import segno
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from apologies import links
from apologies.campaigns import lifecycle, templating, words
from apologies.campaigns.models import Campaign, CampaignError, CampaignTemplate, Recipient
from apologies.letters.models import LetterSettings
from apologies.letters.paper import ADDRESS_SIZES, address_fit, window_lines

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
    lifecycle.campaign_edited(campaign=campaign, user=user, what="letters: " + ", ".join(changed))


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
        text_values, html_values = words.values_for(self.campaign, recipient, template)
        if text_values["invitation"]:
            # On paper the personal link is a QR code; the words name the short address people can type.
            paper = dict(text_values, resubscribe_url=self.easy_url, short_code=recipient.short_code)
            invitation = templating.render(template.invitation, paper, as_html=True)
            html_values["invitation"] = mark_safe(
                render_to_string(
                    "apologies/letters/way_back.html",
                    {
                        "qr": qr_svg(links.resubscribe_url(recipient)),
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
        template = self.campaign.template_for(recipient, self.templates)
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
