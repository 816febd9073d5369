"""CSV uploads read row by row: encoding and delimiter, the header, rows with the line they start on, and a quote
left open reported on its line, the lines it ran over read again (memory: one record).

Shared by every CSV send-log format, by contact and suppression imports and by the letters' returns CSV.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, count
from typing import BinaryIO

from .readers import (
    DAMAGED,
    Limits,
    LongLine,
    check_text,
    configure,
    damaged,
    detect_encoding,
    head_of,
    head_text,
    log_stream,
    long_line,
    text_lines,
    undecodable,
)
from .records import FormatError, Rejected


@dataclass
class CsvFile:
    """An open CSV: its encoding and delimiter (detected or chosen), header, and rows with their line numbers."""

    encoding: str
    delimiter: str
    header: list[str]
    rows: Iterator[tuple[int, list[str] | Rejected]] = field(repr=False)

    def dicts(self) -> Iterator[tuple[int, dict[str, str] | Rejected]]:
        for line, row in self.rows:
            yield line, row if row.__class__ is Rejected else dict(zip(self.header, row, strict=False))


def open_csv(fileobj: BinaryIO, *, encoding: str = "", delimiter: str = "", limits: Limits | None = None) -> CsvFile:
    """Any CSV upload (contacts, suppressions, letters' returns, send logs), gunzipped and decoded safely.

    Raises FormatError for an empty file, a JSON file, or a line that does not decode (naming line and encoding).
    """
    stream = log_stream(fileobj, limits)
    head = head_of(stream)
    if not head.strip(b" \t\r\n\x00\xff\xfe"):
        raise FormatError("The file is empty.")
    encoding = encoding or detect_encoding(head)
    text = head_text(head, encoding)
    if text.lstrip()[:1] in ("{", "["):
        raise FormatError("This is a JSON file, not a CSV.")
    check_text(head, encoding, "save it as CSV and upload that")
    configure(stream, lines=not codecs.lookup(encoding).name.startswith("utf-16"), depth=False)
    delimiter = delimiter or sniff(text)
    rows = csv_rows(text_lines(stream, encoding), delimiter, encoding)
    header = next(rows, (0, []))[1]
    if header.__class__ is Rejected or not header:
        raise FormatError("The first row of this CSV cannot be read as a header row.")
    return CsvFile(encoding, delimiter, [name.strip() for name in header], rows)


def csv_rows(
    lines: Iterator[str], delimiter: str, encoding: str = "utf-8"
) -> Iterator[tuple[int, list[str] | Rejected]]:
    """Rows of CSV text with the line they start on (the header is line 1); blank rows skipped.

    A line that does not decode stops the file with a FormatError naming the line and the encoding. A row with a
    NUL character is rejected, naming its column: no database text can hold one (PostgreSQL refuses the row, and
    with it the whole batch it came in). A record over several lines that is not one (see well_quoted) is
    rejected on its first line, and the lines it ran over are read again as rows of their own. A line past the
    line limit (a LongLine from text_lines) is rejected on its own, and the rows around it are read.
    """
    # The lines of the record being read, by number: csv reads no further than the end of a record, so the lines
    # a bad record ran over are here, and only those: no more text than csv holds for the record itself (a stray
    # quote's field stops at csv's field_size_limit, 131,072 characters). Cleared at each record.
    record: dict[int, str] = {}
    reader = csv.reader(map(record.setdefault, count(1), lines), delimiter=delimiter)
    base = 0  # the line before the reader's first: a reader made to read lines again counts from 1
    width = 0  # the header's fields
    # The last line read a second time: a bad record starting before it is reported, not read again, so no line
    # is read more than twice.
    again = 0
    end = 0  # the last line of the record before
    while True:
        record.clear()
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except DAMAGED:
            yield start, damaged(start)
            return
        except UnicodeDecodeError:
            raise FormatError(undecodable(base + reader.line_num + 1, encoding)) from None
        except csv.Error as error:
            end = base + reader.line_num
            if end <= start:
                yield start, Rejected(start, f"unreadable CSV row: {error}")
                if end < start:
                    return
                continue
            row = None  # over several lines: a quoted field ran on past csv's limit for a field
        else:
            end = base + reader.line_num
        values = record.values()
        if end == start and values and type(next(iter(values))) is LongLine:
            yield start, Rejected(start, long_line(start, next(iter(values)).limit))
            continue
        if end > start and (
            row is None
            or any(type(line) is LongLine for line in values)
            or not well_quoted(values, delimiter, len(row), width)
        ):
            read_again = start >= again
            yield start, Rejected(start, unclosed_quote(start, end, read_again))
            if read_again:
                # They were read into a field, not as rows: none of them was imported or counted. From the line after
                # the stray quote, csv reads them as the rows they are; a new reader, as a reader cannot be reset.
                lines = chain(list(record.values())[1:], lines)
                reader = csv.reader(map(record.setdefault, count(start + 1), lines), delimiter=delimiter)
                base, again, end = start, end, start
            continue
        if any(cell.strip() for cell in row):
            if "\x00" in "".join(row):
                column = next(i for i, cell in enumerate(row, 1) if "\x00" in cell)
                reason = f"a NUL character (\\u0000) in column {column}: no database text can hold it"
                yield start, Rejected(start, reason)
                continue
            if not width:
                width = len(row)
            yield start, row


def well_quoted(lines: Iterable[str], delimiter: str, fields: int, width: int) -> bool:
    """Whether a record csv read over several lines is one, and not an unclosed quote that ran over the rows after.

    Python's csv reads a quoted field on to the next quote, whatever lines it crosses, or to the end of the file,
    and keeps whatever follows the closing quote: a stray quote reads as one long field, with the rows after it
    inside. What tells the two apart:
    - strict csv refuses the record's lines: the file ends inside the quotes, or text follows the quote that
      closed the field. A stray quote is closed by the next quote in the file, nearly always the opening quote of a
      field of a later row, whose text then follows it (`"[""trial""]"` leaves `[`);
    - the record has another number of fields than the header: the field swallowed delimiters (SendGrid's export,
      like most, writes every column in every row).
    A properly closed field over lines (a bounce reason over two) passes both. Not used: line breaks and delimiters
    inside the field, which a reason may hold as well; strict csv on the whole file, which would refuse one-line rows
    that import today (`"a"b`) and drops the rest of the line its error stops on. Only a record over several lines
    is read again, strictly. Missed: a stray quote closed by a later quote that a delimiter
    or a line break follows, leaving the header's number of fields; nothing in the text tells that from a real
    field. A record over lines with fewer columns than the header (a hand-made CSV) is reported, not guessed.
    """
    if width and fields != width:
        return False
    try:
        list(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return True


def unclosed_quote(start: int, end: int, read_again: bool) -> str:
    one = end == start + 1
    lines = f"line {end}" if one else f"lines {start + 1} to {end}"
    if not read_again:  # some were read again already, after an unclosed quote above: none is read a third time
        then = f", nor {lines}, which the field ran over"
    elif one:
        then = f"; {lines}, which the field ran over, was read again on its own"
    else:
        then = f"; {lines}, which the field ran over, were read again as rows of their own"
    return (
        f"a quoted field opens on line {start} and is not closed on it (an unclosed quote?): "
        f"this row is not imported{then}"
    )


def sniff(text: str) -> str:
    """The delimiter of a CSV from its first line."""
    line = text.lstrip("\ufeff").partition("\n")[0]
    counts = {candidate: line.count(candidate) for candidate in ",;\t|"}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def csv_first_row(text: str) -> list[str]:
    line = text.lstrip("\ufeff").partition("\n")[0]
    try:
        return next(csv.reader([line], delimiter=sniff(line)), [])
    except csv.Error:
        return []
