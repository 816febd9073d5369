"""Glyphs: which characters the letter's fonts can print, and a check after layout for any that would print blank."""

from __future__ import annotations

import functools
import logging
import subprocess
import unicodedata

from fontTools.ttLib import TTFont
from weasyprint.formatting_structure import boxes
from weasyprint.text.ffi import ffi, pango

from apologies.letters.paper import covered

log = logging.getLogger(__name__)

# The letter's font stack, as in letter.css: Latin, Greek and Cyrillic first, then the scripts names use.
FONT_FAMILIES = (
    "Noto Sans", "Noto Sans Arabic", "Noto Sans Hebrew", "Noto Sans Devanagari", "Noto Sans Thai",
    "Noto Sans CJK JP", "Noto Color Emoji", "Symbola", "DejaVu Sans",
)  # fmt: skip


def invisible(ch: str) -> bool:
    """Joiners, variation selectors, spaces and controls: shaped away, never drawn as a glyph of their own."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp", "Mn") or 0xFE00 <= ord(ch) <= 0xFE0F


@functools.cache
def font_files() -> tuple[tuple[str, int], ...]:
    """(file, index in a collection) of each family fontconfig has: the fonts Pango falls back through."""
    found = []
    for family in FONT_FAMILIES:
        try:
            out = subprocess.run(
                ["fc-match", "-f", "%{family}\t%{file}\t%{index}", family],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        families, path, index = (out.split("\t") + ["", "", "0"])[:3]
        if family.casefold() in families.casefold() and (path, int(index or 0)) not in found:
            found.append((path, int(index or 0)))
    return tuple(found)


@functools.cache
def coverage() -> frozenset[int]:
    """Every code point some font of the letter's stack has a glyph for."""
    points: set[int] = set()
    for path, index in font_files():
        try:
            font = TTFont(path, fontNumber=index, lazy=True)
            points.update(font.getBestCmap() or {})
        except Exception:  # noqa: BLE001 - a broken font file covers nothing
            log.warning("could not read the font %s", path)
    return frozenset(points)


@functools.cache
def any_font_has(ch: str) -> bool:
    """Whether some installed font has the character: where Pango falls back to beyond the letter's stack."""
    try:
        out = subprocess.run(
            ["fc-list", f":charset={ord(ch):x}", "file"], capture_output=True, text=True, timeout=5, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def missing_chars(text: str) -> str:
    """The characters of text no installed font can print, each once, in order."""
    if covered(text):
        return ""
    have = coverage()
    found = []
    for ch in text:
        if ord(ch) not in have and not invisible(ch) and ch not in found and not any_font_has(ch):
            found.append(ch)
    return "".join(found)


def describe(chars: str) -> str:
    return ", ".join(f"{ch} (U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')})" for ch in chars)


def page_missing(page) -> str:
    """After layout: the characters this page would print as an empty box (.notdef), each once."""
    found: list[str] = []
    for box in page._page_box.descendants():  # noqa: SLF001 - WeasyPrint keeps the laid-out tree there
        if not isinstance(box, boxes.TextBox) or covered(box.text):
            continue
        box.pango_layout.reactivate(box.style)  # WeasyPrint keeps layouts asleep between layout and drawing
        line, _ = box.pango_layout.get_first_line()
        run = line.runs[0]
        while run != ffi.NULL:
            glyph_string = run.data.glyphs
            for info in glyph_string.glyphs[0 : glyph_string.num_glyphs]:
                if info.glyph != pango.PANGO_GLYPH_EMPTY and info.glyph & pango.PANGO_GLYPH_UNKNOWN_FLAG:
                    ch = chr(info.glyph - pango.PANGO_GLYPH_UNKNOWN_FLAG)
                    if not invisible(ch) and ch not in found:
                        found.append(ch)
            run = run.next
        box.pango_layout.deactivate()
    return "".join(found)
