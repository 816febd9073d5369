"""The preflight before letters print: a public site URL, images sharp enough, the sheet limit, fonts, sender."""

from __future__ import annotations

import io
import ipaddress
import re
from base64 import b64decode
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

from django.conf import settings
from PIL import Image

from apologies import links
from apologies.campaigns.models import Campaign, CampaignError, Recipient
from apologies.letters import checks, glyphs, layout
from apologies.letters.models import return_address_problem
from apologies.letters.paper import PT_PER_IN, return_problem

IMG = re.compile(r"<img\b[^>]*>", re.I)
ATTR = re.compile(r'([a-z-]+)\s*=\s*"([^"]*)"', re.I)
LENGTH = re.compile(r"^\s*([\d.]+)\s*(px|in|mm|cm|pt|%)?\s*$")
UNITS_IN = {"px": 1 / 96, "in": 1, "mm": 1 / 25.4, "cm": 1 / 2.54, "pt": 1 / 72}
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".invalid", ".test", ".example", ".lan", ".home")


@dataclass(frozen=True)
class Problem:
    """One thing the preflight found: `blocks` when letters must not print until it is fixed."""

    message: str
    blocks: bool = True


def site_problems() -> list[Problem]:
    """The printed link and QR code must reach the public site, over https in production."""
    url = urlsplit(settings.SITE_URL)
    host = (url.hostname or "").lower()
    problems = []
    private = not host or host == "localhost" or host.endswith(PRIVATE_SUFFIXES) or "." not in host
    try:
        ip = ipaddress.ip_address(host)
        private = ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_unspecified
    except ValueError:
        pass
    if private:
        problems.append(
            Problem(
                f"The site URL is {settings.SITE_URL}: letters would print {layout.easy_url()}, which nobody can "
                "reach. Set SITE_URL to the public address.",
                blocks=settings.AMENDS_LETTERS_PREFLIGHT_STRICT,
            )
        )
    if url.scheme != "https" and not settings.DEBUG:
        problems.append(
            Problem(
                f"The site URL {settings.SITE_URL} is not https: the QR code must open a secure page.",
                blocks=settings.AMENDS_LETTERS_PREFLIGHT_STRICT,
            )
        )
    # In production (links.site_url_problem: DEBUG off) a printed QR code cannot be recalled: always a stop.
    production = links.site_url_problem()
    if production:
        problems = [Problem(production, blocks=True)]
    return problems


def length_in(value: str, *, column_in: float) -> float | None:
    found = LENGTH.match(value or "")
    if not found:
        return None
    number, unit = float(found.group(1)), found.group(2) or "px"
    return number * column_in / 100 if unit == "%" else number * UNITS_IN[unit]


def image_pixels(src: str) -> tuple[int, int] | None:
    """The pixel size of a static or data: image; None for vector images (SVG) and what cannot be read."""
    data = b""
    if src.startswith("data:"):
        meta, _, payload = src[5:].partition(",")
        if "svg" in meta:
            return None
        data = b64decode(payload) if meta.endswith(";base64") else unquote_to_bytes(payload)
    else:
        path = layout.static_file(urlsplit(src).path.lstrip("/").removeprefix("static/"))
        if path is None or path.suffix.lower() == ".svg":
            return None
        data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - an unreadable image prints nothing; the letter still prints
        return None


def printed_width_in(tag: str, pixels: tuple[int, int], *, column_in: float) -> float:
    """How wide the image prints: its width (style or attribute), else its size at 96 px/in; at most the column."""
    attrs = {k.lower(): v for k, v in ATTR.findall(tag)}
    width = None
    for declaration in attrs.get("style", "").split(";"):
        name, _, value = declaration.partition(":")
        if name.strip().lower() == "width":
            width = length_in(value, column_in=column_in)
    if width is None and "width" in attrs:
        width = length_in(attrs["width"], column_in=column_in)
    if width is None and "height" in attrs:
        height = length_in(attrs["height"], column_in=column_in)
        width = height * pixels[0] / pixels[1] if height else None
    if width is None:
        width = pixels[0] / 96
    return min(width, column_in)


def image_problems(campaign: Campaign) -> list[Problem]:
    writer = layout.LetterWriter(campaign)
    envelope = writer.envelope
    column_in = (envelope.page[0] - 2 * envelope.text_left) / PT_PER_IN
    minimum = settings.AMENDS_LETTERS_MIN_PPI
    problems = []
    for template in writer.templates:
        body = layout.clean_letter_html(template.letter_body or template.html_body or "")
        for tag in IMG.findall(body):
            src = dict((k.lower(), v) for k, v in ATTR.findall(tag)).get("src", "")
            name = src if not src.startswith("data:") else "a pasted image"
            if (
                src
                and not src.startswith("data:")
                and layout.static_file(urlsplit(src).path.lstrip("/").removeprefix("static/")) is None
            ):
                problems.append(
                    Problem(f"The letter's image {name[:80]} is not one of the app's static files: it would not print.")
                )
                continue
            pixels = image_pixels(src)
            if pixels is None:
                continue
            width = printed_width_in(tag, pixels, column_in=column_in)
            ppi = pixels[0] / width
            if ppi < minimum:
                most = pixels[0] / minimum
                problems.append(
                    Problem(
                        f"The letter's image {name[:80]} ({pixels[0]} x {pixels[1]} px) prints at {ppi:.0f} ppi, under "
                        f'{minimum}: give it a width of at most {most:.2f} in (style="width: {most:.2f}in") or use a '
                        "larger image."
                    )
                )
    logo = layout.logo_path(writer.ls)
    if logo:
        pixels = image_pixels(logo)
        if pixels is not None:
            printed = min(0.55 * pixels[0] / pixels[1], 2.2)
            if pixels[0] / printed < minimum:
                problems.append(Problem(f"The logo {logo} prints at {pixels[0] / printed:.0f} ppi, under {minimum}."))
    return problems


def sheet_problems(campaign: Campaign) -> list[Problem]:
    """A sample letter of each template, laid out: more sheets than the envelope holds needs a flat envelope."""
    writer = layout.LetterWriter(campaign)
    envelope = writer.envelope
    problems = []
    seen = set()
    for recipient in campaign.recipients.filter(channel=Recipient.Channel.LETTER).select_related("contact")[:200]:
        template = campaign.template_for(recipient, writer.templates)
        if template.id in seen or recipient.contact is None:
            continue
        seen.add(template.id)
        try:
            pages = len(layout.letter_pages(recipient=recipient))
        except CampaignError:
            continue
        except Exception as exc:  # noqa: BLE001 - the batch itself will fail and say why; the preflight says it too
            problems.append(Problem(f"A sample letter could not be laid out: {type(exc).__name__}: {exc}", False))
            continue
        sheets = (pages + 1) // 2 if writer.ls.duplex else pages
        if sheets > envelope.sheet_limit:
            problems.append(
                Problem(
                    f"The {template.language or 'default'} letter takes {sheets} sheets: a {envelope.label} holds "
                    f"{envelope.sheet_limit}. Shorten it or choose a larger envelope."
                )
            )
    return problems


def letters_preflight(*, campaign: Campaign, layout_sample: bool = True) -> list[Problem]:
    """Everything that would make the mail house refuse the file or the letters fail their readers, named."""
    ls = layout.letter_settings(campaign)
    writer_envelope = layout.letter_envelope(ls)
    problems = site_problems()
    missing = return_address_problem(ls.return_address)
    if missing:
        problems.append(Problem(missing))
    else:
        problem = return_problem(layout.sender_lines(ls), writer_envelope)
        if problem:
            problems.append(Problem(f"The return address: {problem}."))
    problems += image_problems(campaign)
    if layout_sample:
        problems += sheet_problems(campaign)
    if checks.harfbuzz_subset_missing():
        problems.append(Problem("libharfbuzz-subset0 is not installed: rendering is about 7x slower.", blocks=False))
    missing = glyphs.missing_chars("\U00020bb7\U0001f338\u05d0\u0627")
    if missing:
        problems.append(
            Problem(
                f"Fonts for some names are not installed ({glyphs.describe(missing)}): letters with them are held. "
                "Run make system-deps.",
                blocks=False,
            )
        )
    return problems
