"""Start-up checks for letters: say when libharfbuzz-subset0 is missing (every PDF then costs about 7x more)."""

from __future__ import annotations

import logging

from weasyprint.text import ffi

log = logging.getLogger(__name__)

fonts_warned_flag = False


def harfbuzz_subset_missing() -> bool:

    return ffi.harfbuzz_subset is None


def fonts_warn() -> None:
    """Log once per process when WeasyPrint has to subset fonts with fontTools."""
    global fonts_warned_flag
    if not fonts_warned_flag and harfbuzz_subset_missing():
        log.warning(
            "libharfbuzz-subset0 is not installed: WeasyPrint falls back to fontTools and every letter PDF "
            "takes about 7x longer. Install it (apt-get install libharfbuzz-subset0) and restart."
        )
    fonts_warned_flag = True
