"""Send logs of every ESP read into one common shape: the public API of the readers, formats and registry."""

from __future__ import annotations

from .readers import DEFAULT_LIMITS, HEAD_SIZE, LimitError, Limits, open_csv, open_log
from .records import Event, FormatError, Rejected
from .registry import FORMAT_LABELS, FORMATS, csv_header, csv_preview, detect_format, parse

__all__ = [
    "DEFAULT_LIMITS",
    "FORMATS",
    "FORMAT_LABELS",
    "HEAD_SIZE",
    "Event",
    "FormatError",
    "LimitError",
    "Limits",
    "Rejected",
    "csv_header",
    "csv_preview",
    "detect_format",
    "open_csv",
    "open_log",
    "parse",
]
