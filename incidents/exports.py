"""CSV exports: formula-safe cells (`csv_safe`) and streaming CSV writing shared by every download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

# A piece of CSV text is handed on once it grows past this.
CHUNK_CHARS = 65536


def csv_safe(value) -> str:
    """Spreadsheets run cells that start with = + - @ (or tab/CR) as formulas; quote them as text."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def csv_stream(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """CSV text in pieces for a streaming response: the header, then each row with its text cells made safe."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(value) if isinstance(value, str) else value for value in row])
        if buf.tell() > CHUNK_CHARS:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
