"""Paper geometry: the envelope tables, font metrics, and where an address fits so the window always shows it."""

from __future__ import annotations

import functools
import logging
import subprocess
from dataclasses import dataclass

from django.conf import settings
from fontTools.ttLib import TTFont

from apologies.letters.models import LetterSettings

log = logging.getLogger(__name__)

PT_PER_IN = 72
PT_PER_MM = 72 / 25.4
CLEARANCE = PT_PER_IN / 8  # USPS: 1/8 in clear of the window's edge on every side


@functools.cache
def font_widths() -> tuple[dict[int, int], int] | None:
    """Advance widths of the letter's first font (Noto Sans), by code point, and its units per em."""
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


# A character Noto Sans lacks comes from a fallback font (CJK 1 em, emoji about 1.25 em): count 1.3 em.
FALLBACK_EM = 1.3
# Glyph boxes (what pdftotext -bbox and the eye see): Noto Sans ascent + descent is 1.362 em; the CJK and
# emoji fallbacks reach 1.45 em. Lines are 1.15 em apart.
GLYPH_EM, FALLBACK_GLYPH_EM, LINE_HEIGHT = 1.362, 1.45, 1.15


def covered(text: str) -> bool:
    metrics = font_widths()
    return metrics is not None and all(ord(ch) in metrics[0] for ch in text)


def text_width_pt(text: str, size_pt: float) -> float:
    metrics = font_widths()
    if metrics is None:
        return len(text) * size_pt * 0.62
    widths, upem = metrics
    fallback = upem * FALLBACK_EM
    return sum(widths.get(ord(ch), fallback) for ch in text) * size_pt / upem


def glyph_em(lines: list[str]) -> float:
    return GLYPH_EM if all(covered(line) for line in lines) else FALLBACK_GLYPH_EM


def block_height_pt(lines: list[str], size_pt: float) -> float:
    """From the top of the first line's glyphs to the bottom of the last line's."""
    return (len(lines) - 1) * size_pt * LINE_HEIGHT + glyph_em(lines) * size_pt


@dataclass(frozen=True)
class Box:
    """A rectangle on the sheet, in points from its top-left corner."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def inset(self, *, x: float = 0, y: float = 0) -> Box:
        return Box(self.left + x, self.top + y, self.right - x, self.bottom - y)

    def contains(self, other: Box) -> bool:
        eps = 0.01
        return (
            self.left - eps <= other.left
            and other.right <= self.right + eps
            and self.top - eps <= other.top
            and other.bottom <= self.bottom + eps
        )


def inches(left: float, top: float, right: float, bottom: float) -> Box:
    return Box(left * PT_PER_IN, top * PT_PER_IN, right * PT_PER_IN, bottom * PT_PER_IN)


def mm(left: float, top: float, right: float, bottom: float) -> Box:
    return Box(left * PT_PER_MM, top * PT_PER_MM, right * PT_PER_MM, bottom * PT_PER_MM)


@dataclass(frozen=True)
class Envelope:
    """One envelope and the sheet inside it: windows as they lie on the sheet (../shared/reference/letters.md)."""

    key: str
    label: str
    page_size: str  # LetterSettings.PageSize
    page: tuple[float, float]  # points
    window: Box  # the recipient window, sheet side
    clear_width: float  # the widest address line the window shows with 1/8 in clear and the sideways slide
    return_window: Box | None  # a second window for the return address (US #10), else a line in the window
    text_left: float  # the body's text column: the address starts there when the window allows
    body_top: float  # nothing but the head above this (the fold)
    sheet_limit: int  # more sheets than this need a flat envelope
    max_lines: int = 6

    @property
    def slack(self) -> float:
        """How far the insert slides, top to bottom, in points (a setting per envelope)."""
        return settings.AMENDS_LETTERS_INSERT_SLACK_IN.get(self.key, 0) * PT_PER_IN

    @property
    def clear(self) -> Box:
        """Where ink may be with the insert where it was put: 1/8 in inside the window."""
        box = self.window.inset(x=CLEARANCE, y=CLEARANCE)
        return Box(box.left, box.top, min(box.right, box.left + self.clear_width), box.bottom)

    @property
    def zone(self) -> Box:
        """Where ink stays 1/8 in clear of the window at both ends of the slide."""
        return self.clear.inset(y=self.slack / 2)

    @property
    def return_zone(self) -> Box | None:
        if self.return_window is None:
            return None
        return self.return_window.inset(x=CLEARANCE, y=CLEARANCE).inset(y=self.slack / 2)


US_LETTER, A4 = (612.0, 792.0), (210 * PT_PER_MM, 297 * PT_PER_MM)
# DIN 5008 form B: the address field is 85 x 45 mm at 20 mm / 45 mm; the text column starts at 25 mm.
DIN_FIELD = mm(20, 45, 110, 90)


ENVELOPES = {
    "us10": Envelope(
        "us10",
        "US Letter (8.5 x 11 in) in a #10 double-window envelope",
        LetterSettings.PageSize.LETTER,
        US_LETTER,
        window=inches(0.625, 1.70, 4.625, 2.70),
        clear_width=3.75 * PT_PER_IN,
        return_window=inches(0.625, 0.50, 3.875, 1.375),
        text_left=0.75 * PT_PER_IN,
        body_top=3.375 * PT_PER_IN,
        sheet_limit=6,
    ),
    "dl": Envelope(
        "dl",
        "A4 in a DL window envelope (DIN 5008 form B)",
        LetterSettings.PageSize.A4,
        A4,
        window=DIN_FIELD,
        clear_width=72 * PT_PER_MM,
        return_window=None,
        text_left=25 * PT_PER_MM,
        body_top=100 * PT_PER_MM,
        sheet_limit=6,
    ),
    "c5": Envelope(
        "c5",
        "A4 in a C5 window envelope (folded once)",
        LetterSettings.PageSize.A4,
        A4,
        window=DIN_FIELD,
        clear_width=63 * PT_PER_MM,
        return_window=None,
        text_left=25 * PT_PER_MM,
        body_top=100 * PT_PER_MM,
        sheet_limit=10,
    ),
    "c6": Envelope(
        "c6",
        "A4 in a C6 window envelope (folded twice)",
        LetterSettings.PageSize.A4,
        A4,
        window=DIN_FIELD,
        clear_width=63 * PT_PER_MM,
        return_window=None,
        text_left=25 * PT_PER_MM,
        body_top=100 * PT_PER_MM,
        sheet_limit=3,
    ),
}
DEFAULT_ENVELOPE = {LetterSettings.PageSize.LETTER: "us10", LetterSettings.PageSize.A4: "dl"}


def envelope_for(*, page_size: str, envelope: str = "") -> Envelope:
    """The envelope chosen, else the usual one for the paper (a #10 for US Letter, DL for A4)."""
    found = ENVELOPES.get(envelope)
    if found is None or found.page_size != page_size:
        found = ENVELOPES[DEFAULT_ENVELOPE.get(page_size, "us10")]
    return found


ADDRESS_SIZES = (10.0, 9.5, 9.0, 8.5, 8.0)  # points, largest first; 8 pt keeps capitals over 2 mm high
RETURN_SIZE, RETURN_LINE_SIZE = 8.0, 6.5  # the US return window; the A4 sender line above the address


@dataclass(frozen=True)
class Fit:
    """Where the address prints: its size and its glyph box on the sheet; or why it cannot."""

    size: float | None
    problem: str = ""
    left: float = 0  # points from the sheet's left edge
    ink_top: float = 0  # top of the first line's glyphs
    width: float = 0
    return_line_top: float = 0  # A4: the sender line's glyph top
    glyph_em: float = GLYPH_EM  # taller when a fallback font (CJK, emoji) prints part of the address

    @property
    def css_top(self) -> float:
        """The block's CSS top: glyphs taller than the line reach above it by half the (negative) leading."""
        return self.ink_top - (LINE_HEIGHT - self.glyph_em) * self.size / 2


def return_line_height() -> float:
    return GLYPH_EM * RETURN_LINE_SIZE


def address_fit(lines: list[str], envelope: Envelope) -> Fit:
    """The largest size at which the lines stay inside the window's clear zone at both ends of the slide."""
    zone = envelope.zone
    left = max(zone.left, envelope.text_left)  # aligned with the text column where the window allows
    room_wide = zone.right - left
    top = zone.top
    return_line_top = 0.0
    if envelope.return_window is None:
        # DIN 5008: the sender line sits in the window above the address, which starts at 62.7 mm when it can.
        return_line_top = top
        top += return_line_height() + 1.5
    if not lines:
        return Fit(None, "no address lines")
    if len(lines) > envelope.max_lines:
        return Fit(None, f"the address has {len(lines)} lines: at most {envelope.max_lines} fit the window")
    for size in ADDRESS_SIZES:
        tall = block_height_pt(lines, size)
        wide = max(text_width_pt(line, size) for line in lines)
        if top + tall <= zone.bottom and wide <= room_wide:
            ink_top = top
            if envelope.return_window is None:
                ink_top = max(top, min(62.7 * PT_PER_MM, zone.bottom - tall))
            return Fit(size, "", left, ink_top, room_wide, return_line_top, glyph_em(lines))
    size = ADDRESS_SIZES[-1]
    wide = max(text_width_pt(line, size) for line in lines)
    if wide > room_wide:
        return Fit(
            None,
            f"an address line is {wide / PT_PER_MM:.0f} mm long at {size:g} pt: the window shows "
            f"{room_wide / PT_PER_MM:.0f} mm with 1/8 in clear",
        )
    slack = envelope.slack / PT_PER_IN
    return Fit(
        None,
        f"the address has {len(lines)} lines ({block_height_pt(lines, size) / PT_PER_IN:.2f} in at {size:g} pt): "
        f"the window keeps {(zone.bottom - top) / PT_PER_IN:.2f} in clear when the insert slides {slack:.3g} in",
    )


def envelopes_fitting(lines: list[str], *, other_than: Envelope) -> list[Envelope]:
    """The other envelopes (and their paper) Amends offers whose window shows these lines: an address too tall or
    too wide for one window may be complete, and print in another."""
    return [e for e in ENVELOPES.values() if e.key != other_than.key and address_fit(lines, e).size is not None]


def return_fit(lines: list[str], envelope: Envelope) -> Fit:
    """The return address: in the US return window, or on one line above the A4 address."""
    if envelope.return_window is None:
        if len(lines) > 5:
            return Fit(None, f"{len(lines)} lines do not fit the return window's sender line: at most 5")
        text = " · ".join(lines)
        wide = text_width_pt(text, RETURN_LINE_SIZE)
        zone = envelope.zone
        room = zone.right - max(zone.left, envelope.text_left)
        if wide > room:
            return Fit(
                None, f"the sender line is {wide / PT_PER_MM:.0f} mm long: the window shows {room / PT_PER_MM:.0f} mm"
            )
        return Fit(RETURN_LINE_SIZE, "", max(zone.left, envelope.text_left), zone.top, room)
    zone = envelope.return_zone
    left = max(zone.left, envelope.text_left)
    tall = block_height_pt(lines, RETURN_SIZE)
    wide = max((text_width_pt(line, RETURN_SIZE) for line in lines), default=0)
    if tall > zone.height:
        most = int((zone.height - GLYPH_EM * RETURN_SIZE) // (RETURN_SIZE * LINE_HEIGHT)) + 1
        return Fit(None, f"{len(lines)} lines do not fit the return window: at most {most}")
    if wide > zone.right - left:
        return Fit(None, f"a line is too long for the return window ({(zone.right - left) / PT_PER_IN:.2f} in)")
    return Fit(RETURN_SIZE, "", left, zone.top, zone.right - left)


def return_problem(lines: list[str], envelope: Envelope | None = None) -> str:
    if envelope is None:
        envelope = ENVELOPES["us10"]
    return return_fit(lines, envelope).problem
