"""Helpers for the letter tests: campaigns whose people get letters, and reading the PDFs back."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from apologies.campaigns import lifecycle, planning
from apologies.models import Campaign, LetterSettings
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Contact

US_RETURN_ADDRESS = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"


def letter_campaign(
    marketer,
    approver=None,
    *,
    people: dict[str, dict],
    start: bool = True,
    letter_settings: dict | None = None,
    letter_body: str | None = None,
    **fields,
) -> Campaign:
    """A campaign whose people unsubscribed and have addresses (so: letters). people: email -> contact fields.

    A field "messages" sets how many emails they received (and so their tier); "state" their state.
    `letter_settings` and the `letter_body` are set before the approval, which covers them; the return address
    defaults to a US one.
    """
    incident = IncidentFactory()
    for email, values in people.items():
        values = dict(values)
        person(incident, email, state=values.pop("state", "unsubscribed"), messages=values.pop("messages", 3))
        if values.pop("contact", True):
            address = {k: values.pop(k) for k in ("address_line1", "city", "region", "postal_code") if k in values}
            made = contact(email, **values)
            Contact.objects.filter(id=made.id).update(**address)
    campaign = planning.campaign_create(incident=incident, name="Sorry for the loop", author=marketer, **fields)
    LetterSettings.objects.update_or_create(
        campaign=campaign, defaults={"return_address": US_RETURN_ADDRESS, **(letter_settings or {})}
    )
    if letter_body is not None:
        campaign.templates.update(letter_body=letter_body)
    if approver is not None:
        lifecycle.campaign_submit(campaign=campaign, user=marketer)
        lifecycle.campaign_approve(campaign=campaign, user=approver)
        if start:
            sending.campaign_start(campaign=campaign, user=approver)
            campaign.refresh_from_db()
    return campaign


def pdf_text(pdf: bytes, *, first: int | None = None, last: int | None = None) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        args = ["pdftotext", "-layout"]
        if first:
            args += ["-f", str(first)]
        if last:
            args += ["-l", str(last)]
        return subprocess.run([*args, f.name, "-"], capture_output=True, text=True, check=True).stdout


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page; pdftotext separates pages with a form feed."""
    return pdf_text(pdf).split("\f")[:-1]


def pdf_page_count(pdf: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


@dataclass
class Word:
    page: int
    text: str
    x_min: float  # points from the left edge
    y_min: float  # points from the top edge
    x_max: float
    y_max: float


def pdf_words(pdf: bytes) -> list[Word]:
    """Every word with its box, from `pdftotext -bbox` (points, origin at the top-left of the page)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        html = subprocess.run(["pdftotext", "-bbox", f.name, "-"], capture_output=True, text=True, check=True).stdout
    root = ElementTree.fromstring(
        re.sub(r"<!DOCTYPE[^>]*>", "", html).replace(' xmlns="http://www.w3.org/1999/xhtml"', "")
    )
    words = []
    for n, page in enumerate(root.iter("page"), start=1):
        for w in page.iter("word"):
            words.append(Word(n, w.text or "", *(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax"))))
    return words


def page_size_pt(pdf: bytes) -> tuple[float, float]:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True, check=True).stdout
    w, h = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups()
    return float(w), float(h)


def qr_codes(pdf: bytes, *, page: int = 1, dpi: int = 200) -> list[str]:
    """What the QR codes on a page decode to (zbarimg on a pdftoppm rendering)."""
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "letter.pdf"
        src.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png", "-singlefile", src, Path(d) / "p"],
            check=True,
        )
        out = subprocess.run(
            ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", Path(d) / "p.png"],
            capture_output=True,
            text=True,
        )
    return [line for line in out.stdout.splitlines() if line]
