"""Send logs of every ESP read into one common shape: the public API of the readers, formats and registry."""

from __future__ import annotations

from .csv_records import open_csv
from .readers import DEFAULT_LIMITS, HEAD_SIZE, LimitError, Limits, open_log
from .records import Event, FormatError, Rejected, nul_field
from .registry import (
    ANYMAIL_ESP_NAMES,
    FORMAT_LABELS,
    FORMATS,
    CsvSample,
    csv_header,
    csv_preview,
    csv_sample,
    detect_format,
    parse,
    parse_columnar,
    records_from_esp_event,
)

__all__ = [
    "CsvSample",
    "ANYMAIL_ESP_NAMES",
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
    "csv_sample",
    "detect_format",
    "nul_field",
    "open_csv",
    "open_log",
    "parse",
    "parse_columnar",
    "records_from_esp_event",
]
