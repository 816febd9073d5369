"""Reading uploads safely: gunzip, size/ratio/depth/line limits, JSON/NDJSON streaming, text in its encoding.

Shared by every send-log format, by contact and suppression imports, and by the letters' returns CSV
(CSV rows: csv_records).  Memory stays flat however large the file is; a file past a limit is refused with a
sentence naming the limit.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO

import charset_normalizer
import ijson
import orjson

from .records import FormatError, Rejected

# detect_format() wants this much of the file; the stream open_log() returns can
# peek() this far without reading anything.
HEAD_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """What one upload may cost; config/settings.py sets them from IMPORT_MAX_* (see there)."""

    max_bytes: int = 4 * 1024**3  # bytes after decompression
    max_ratio: int = 200  # decompressed bytes per compressed byte
    max_depth: int = 64  # JSON nesting
    max_line: int = 8 * 1024**2  # bytes in one line of NDJSON, one-object-per-line JSON or CSV


DEFAULT_LIMITS = Limits()
# A compression ratio is judged only once this much is decompressed: tiny files compress very well.
RATIO_SLACK = 1024**2


class LimitError(FormatError):
    """The upload goes past one of the Limits; the message names it."""


def _mb(n: int) -> str:
    return f"{n / 1024**2:g} MB" if n >= 1024**2 else f"{n:,} bytes"


class _Borrowed(io.RawIOBase):
    """The caller's file, read through and counted; closing the wrapper leaves it open."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._file = fileobj
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _trailing_backslashes(data: bytes) -> int:
    return len(data) - len(data.rstrip(b"\\"))


class DepthScanner:
    """Follows JSON nesting across chunks (strings skipped) and refuses it past a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.escape = False

    def feed(self, data: bytes) -> None:
        pos = 0
        if self.in_string:
            pos = 1 if self.escape else 0
            found = _STRING_REST.match(data, pos)
            if found is None:
                self.escape = _trailing_backslashes(data[pos:]) % 2 == 1
                return
            self.in_string = self.escape = False
            pos = found.end()
        rest = _STRING.sub(b"", data[pos:])
        quote = rest.find(b'"')
        if quote >= 0:
            tail = rest[quote + 1 :]
            rest = rest[:quote]
            self.in_string = True
            self.escape = _trailing_backslashes(tail) % 2 == 1
        depth = self.depth
        for byte in rest.translate(None, _NOT_BRACKETS):
            if byte in b"[{":
                depth += 1
                if depth > self.limit:
                    raise LimitError(depth_refusal(self.limit))
            else:
                depth -= 1
        self.depth = max(depth, 0)


def depth_refusal(limit: int) -> str:
    return (
        f"The JSON in this file is nested more than {limit} levels deep (the limit IMPORT_MAX_JSON_DEPTH); "
        "no ESP log is, so it was not read."
    )


def line_refusal(limit: int) -> str:
    return (
        f"A line of this file is longer than {_mb(limit)} (the limit IMPORT_MAX_LINE_BYTES); "
        "it was not read. Is it really one event or one row per line?"
    )


def long_line(number: int, limit: int, what: str = "line") -> str:
    """Why a line past the limit is rejected: the rest of the file is read on."""
    return (
        f"{what} {number} is longer than {_mb(limit)} (the limit IMPORT_MAX_LINE_BYTES): it was skipped unread. "
        "Is it really one event or one row per line?"
    )


# A line past the limit is skipped in pieces of this size: never held whole.
SKIP_BYTES = 1024**2


def bounded_lines(stream: io.BufferedReader) -> tuple[Iterator[bytes], int]:
    """The lines of `stream`, none read longer than the line limit plus one byte, and that limit.

    A line that comes back longer than the limit without its newline is the start of a line past it: give it to
    skip_long_line(). The guard stops checking lines (it would refuse the whole file): the reader does.
    """
    limit = max_line(stream)
    configure(stream, lines=False, depth=False)
    return iter(partial(stream.readline, limit + 1), b""), limit


def skip_long_line(stream: io.BufferedReader, line: bytes, limit: int) -> bool:
    """Whether `line` (from bounded_lines) starts a line past `limit`; if so the rest of that line is read and
    dropped a piece at a time (memory: one piece), so the next line read is the one after it."""
    if len(line) <= limit or line[-1:] == b"\n":
        return False
    while True:
        piece = stream.readline(SKIP_BYTES)
        if not piece or piece[-1:] == b"\n":
            return True


class _Guard(io.RawIOBase):
    """Counts what is read and enforces the Limits as it goes: size, ratio, line length, nesting."""

    def __init__(self, inner: Any, limits: Limits, compressed: _Borrowed | None) -> None:
        self.inner = inner
        self.limits = limits
        self.compressed = compressed
        self.total = 0
        self.run = 0  # bytes since the last newline
        self.lines = True
        self.depth: DepthScanner | None = DepthScanner(limits.max_depth)

    def readable(self) -> bool:
        return True

    def configure(self, *, lines: bool, depth: bool) -> None:
        """Line-based layouts check each line; streamed JSON is checked for nesting instead."""
        self.lines = lines
        if not lines:
            self.run = 0
        if not depth:
            self.depth = None

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        if not n:
            return 0
        limits = self.limits
        self.total += n
        if self.total > limits.max_bytes:
            raise LimitError(
                f"This file is larger than {_mb(limits.max_bytes)} once decompressed "
                "(the limit IMPORT_MAX_DECOMPRESSED_BYTES); split it and upload the parts."
            )
        if self.compressed is not None and self.total > RATIO_SLACK:
            if self.total > limits.max_ratio * max(self.compressed.count, 1):
                raise LimitError(
                    f"This compressed file expands more than {limits.max_ratio} times "
                    "(the limit IMPORT_MAX_COMPRESSION_RATIO); no send log compresses that well, so it was not read."
                )
        if self.lines:
            newline = data.rfind(b"\n")
            self.run = n - 1 - newline if newline >= 0 else self.run + n
            if self.run > limits.max_line:
                raise LimitError(line_refusal(limits.max_line))
        if self.depth is not None:
            self.depth.feed(data)
        buffer[:n] = data
        return n


def open_log(fileobj: BinaryIO, limits: Limits | None = None) -> io.BufferedReader:
    """Buffer the upload, gunzip it when it starts with the gzip magic bytes, and guard it with `limits`.

    The result supports ``peek()``: ``detect_format(stream.peek(HEAD_SIZE))``
    looks at the head without consuming it.
    """
    limits = limits or DEFAULT_LIMITS
    borrowed = _Borrowed(fileobj)
    stream = io.BufferedReader(borrowed, HEAD_SIZE)
    if stream.peek(2)[:2] == b"\x1f\x8b":
        inner = gzip.GzipFile(fileobj=stream, mode="rb")
        return io.BufferedReader(_Guard(inner, limits, borrowed), HEAD_SIZE)
    return io.BufferedReader(_Guard(stream, limits, None), HEAD_SIZE)


def log_stream(fileobj: BinaryIO, limits: Limits | None = None) -> io.BufferedReader:
    """The stream open_log() made, or a new one around a plain file."""
    if isinstance(fileobj, io.BufferedReader) and isinstance(getattr(fileobj, "raw", None), _Guard):
        return fileobj
    return open_log(fileobj, limits)


def configure(stream: io.BufferedReader, *, lines: bool, depth: bool) -> None:
    raw = getattr(stream, "raw", None)
    if isinstance(raw, _Guard):
        raw.configure(lines=lines, depth=depth)


def max_depth(stream: io.BufferedReader) -> int:
    raw = getattr(stream, "raw", None)
    return raw.limits.max_depth if isinstance(raw, _Guard) else DEFAULT_LIMITS.max_depth


def max_line(stream: io.BufferedReader) -> int:
    raw = getattr(stream, "raw", None)
    return raw.limits.max_line if isinstance(raw, _Guard) else DEFAULT_LIMITS.max_line


def check_depth(data: bytes, limit: int) -> None:
    """Refuse a piece of JSON nested deeper than `limit` (brackets inside strings do not count)."""
    if data.count(b"[") + data.count(b"{") > limit:
        DepthScanner(limit).feed(data)


# A gzip upload that is damaged or cut short fails while it is being read.
DAMAGED = (EOFError, zlib.error, gzip.BadGzipFile)


def damaged(number: int) -> Rejected:
    # Like a cut-short JSON array: keep what was read, say where it stopped.
    return Rejected(number, "the compressed file is damaged or cut short; the rest could not be read")


def head_of(stream: io.BufferedReader) -> bytes:
    try:
        head = stream.peek(HEAD_SIZE)[:HEAD_SIZE]
    except DAMAGED as error:
        raise FormatError("The file looks compressed (gzip) but cannot be decompressed.") from error
    if head.startswith(codecs.BOM_UTF8):
        stream.read(len(codecs.BOM_UTF8))
        head = head[len(codecs.BOM_UTF8) :]
    return head


# JSON layouts:
#   ndjson       one JSON value per line (a line may also hold an array of events)
#   array_lines  a JSON array with one object per line: read line by line (fast)
#   array        any other JSON array (or several): streamed with ijson
#   items        Mailgun events API pages {"items": [...], "paging": {...}}
#   values       pretty-printed objects one after another
LINE_LAYOUTS = ("ndjson", "array_lines")


def layout_of(head: bytes) -> str:
    text = head.lstrip()
    first = text[:1]
    if not first:
        return "empty"
    if first == b"[":
        return "array_lines" if _one_object_per_line(text) else "array"
    if first != b"{":
        return "not_json"
    if _has_items_array(text):
        return "items"
    try:
        orjson.loads(text.partition(b"\n")[0])
    except orjson.JSONDecodeError:
        return "values"
    return "ndjson"


def _one_object_per_line(text: bytes) -> bool:
    lines = text.split(b"\n", 3)
    if len(lines) < 2:
        return False
    candidate = lines[0].strip()[1:].strip() or lines[1].strip()
    candidate = candidate.removesuffix(b"]").rstrip().removesuffix(b",")
    try:
        return candidate[:1] == b"{" and orjson.loads(candidate).__class__ is dict
    except orjson.JSONDecodeError:
        return False


def _has_items_array(text: bytes) -> bool:
    events = ijson.parse(io.BytesIO(text))
    try:
        for prefix, event, value in events:
            if prefix == "" and event == "end_map":
                return False
            if prefix == "" and event == "map_key" and value == "items":
                return next(events)[1] == "start_array"
    except (ijson.JSONError, StopIteration):
        pass
    return False


def json_values(stream: BinaryIO, layout: str) -> Iterator[tuple[int, Any]]:
    # The line layouts check their own line length (bounded_lines): a line past it is rejected, not the file.
    configure(stream, lines=False, depth=layout not in LINE_LAYOUTS)
    if layout == "ndjson":
        return _ndjson(stream)
    if layout == "array_lines":
        return _array_lines(stream)
    prefix = {"array": "item", "items": "items.item", "values": ""}[layout]
    return _ijson_values(stream, prefix)


def _ndjson(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    loads = orjson.loads
    number = 0
    lines, limit = bounded_lines(stream)
    try:
        for number, line in enumerate(lines, 1):
            if skip_long_line(stream, line, limit):
                yield number, Rejected(number, long_line(number, limit))
                continue
            try:
                value = loads(line)
            except orjson.JSONDecodeError as error:
                too_deep(error, stream)
                if line.strip():
                    yield number, Rejected(number, f"broken JSON: {error.msg} at column {error.colno}")
                continue
            if value.__class__ is list:  # one webhook POST body (a batch) per line
                for item in value:
                    yield number, item
            else:
                yield number, value
    except DAMAGED:
        yield number + 1, damaged(number + 1)


def _array_lines(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    loads = orjson.loads
    number = 0
    closed = False
    lines, limit = bounded_lines(stream)
    try:
        for line in lines:
            if skip_long_line(stream, line, limit):
                number += 1
                yield number, Rejected(number, long_line(number, limit, "record"))
                continue
            # Nearly every line is one record and its comma: '{...},'.
            text = line.rstrip(b" \t\r\n,")
            if not text:
                continue
            if closed:
                yield number + 1, Rejected(number + 1, "unexpected text after the end of the JSON array")
                return
            if text[:1] != b"{" or text[-1:] != b"}":
                text, closed = array_edges(text, number == 0)
                if not text:
                    continue
            number += 1
            try:
                value = loads(text)
            except orjson.JSONDecodeError as error:
                too_deep(error, stream)
                # A broken last line with no newline after it: the file was cut short.
                cut = not line.endswith(b"\n")
                yield number, Rejected(number, cut_short(number - 1) if cut else broken_array(number, error.msg))
                return
            yield number, value
    except DAMAGED:
        yield number + 1, damaged(number + 1)
        return
    if not closed:
        yield number + 1, Rejected(number + 1, cut_short(number))


def too_deep(error: orjson.JSONDecodeError, stream: BinaryIO) -> None:
    """One-record-per-line layouts are not scanned (it would cost a third of the import): the head is checked
    against the limit when the file is opened, and orjson refuses any line nested past its own cap of 1,024."""
    if "depth" in error.msg or "recursion" in error.msg.lower():
        raise LimitError(depth_refusal(max_depth(stream))) from None


def array_edges(text: bytes, first: bool) -> tuple[bytes, bool]:
    """Take the array's own brackets off its first and last lines."""
    text = text.lstrip()
    if first and text[:1] == b"[":
        text = text[1:].lstrip()
    closed = text[-1:] == b"]"
    if closed:
        text = text[:-1].rstrip(b" \t\r\n,")
    return text, closed


def _ijson_values(stream: BinaryIO, prefix: str) -> Iterator[tuple[int, Any]]:
    number = 0
    values = ijson.items(stream, prefix, use_float=True, multiple_values=True)
    while True:
        try:
            value = next(values)
        except StopIteration:
            return
        except DAMAGED:
            yield number + 1, damaged(number + 1)
            return
        except (ijson.JSONError, UnicodeDecodeError) as error:
            # yajl adds a drawing of where it stopped; its first line is the message.
            reason = (str(error).strip().splitlines() or [error.__class__.__name__])[0]
            if "premature EOF" in reason or "Incomplete" in reason:
                yield number + 1, Rejected(number + 1, cut_short(number))
            else:
                yield number + 1, Rejected(number + 1, broken_array(number + 1, reason))
            return
        number += 1
        yield number, value


def broken_array(number: int, why: str) -> str:
    return f"broken JSON in record {number} ({why}); nothing after it could be read"


def cut_short(number: int) -> str:
    return f"the file ends in the middle of the JSON after record {number}; it may have been cut short"


# ---------------------------------------------------------------------------
# CSV and text: the encoding is detected, shown and can be chosen; a byte that does not
# fit it stops the import with the line, never a silent U+FFFD.

ENCODINGS = [
    ("utf-8", "UTF-8"),
    ("utf-16", "UTF-16 (Excel “Unicode text”)"),
    ("cp1252", "Windows-1252 (Excel on Windows, Western Europe)"),
    ("iso-8859-1", "ISO-8859-1 (Latin-1)"),
    ("iso-8859-15", "ISO-8859-15 (Latin-9)"),
    ("cp1250", "Windows-1250 (Central Europe)"),
    ("mac_roman", "Mac Roman"),
    ("cp1251", "Windows-1251 (Cyrillic)"),
    ("shift_jis", "Shift JIS"),
    ("gb18030", "GB 18030"),
]
# Single-byte encodings that read most Western files alike: when cp1252 reads the file the same, say cp1252.
_WESTERN = {"cp1250", "latin_1", "iso8859_15", "iso8859_2", "mac_roman", "cp850", "cp1257", "iso8859_9", "cp1254"}


def detect_encoding(head: bytes) -> str:
    """The encoding of a text file from its first bytes: BOMs, then UTF-8, then charset-normalizer."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3 and error.reason == "unexpected end of data":
            return "utf-8"  # the head cut a character in two
    best = charset_normalizer.from_bytes(head).best()
    name = codecs.lookup(best.encoding).name if best else "cp1252"
    if name in _WESTERN:
        try:
            if head.decode("cp1252") == head.decode(name):
                return "cp1252"
        except UnicodeDecodeError:
            pass
    return name


def encoding_label(name: str) -> str:
    wanted = codecs.lookup(name).name
    return next((label for code, label in ENCODINGS if codecs.lookup(code).name == wanted), name)


def undecodable(line: int, encoding: str) -> str:
    return (
        f"Line {line} cannot be read as {encoding_label(encoding)}: choose the file's encoding "
        "in the preview (Excel saves “CSV” as Windows-1252 and “Unicode text” as UTF-16)."
    )


class LongLine(str):
    """What text_lines() gives for a line past the line limit, in its place: an empty line of its own type, with
    the limit (csv_rows rejects it, naming the line)."""

    limit: int = 0


def text_lines(stream: io.BufferedReader, encoding: str) -> Iterator[str]:
    """Lines of text, strictly decoded, for csv.reader (csv_rows turns a decoding error into its line).

    A line past the line limit is skipped a piece at a time and given as a LongLine; a UTF-8 BOM was taken off by
    head_of().
    """
    name = codecs.lookup(encoding).name
    if name.startswith(("utf-16", "utf-32")):
        return _wide_lines(stream, encoding)
    return _narrow_lines(stream, encoding)


def _narrow_lines(stream: io.BufferedReader, encoding: str) -> Iterator[str]:
    lines, limit = bounded_lines(stream)
    for line in lines:
        if skip_long_line(stream, line, limit):
            skipped = LongLine("\n")
            skipped.limit = limit
            yield skipped
        else:
            yield line.decode(encoding)


def _wide_lines(stream: io.BufferedReader, encoding: str) -> Iterator[str]:
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    number = 0
    try:
        for number, line in enumerate(text, 1):  # noqa: B007 - number is read after the loop on an error
            yield line.removeprefix("\ufeff") if number == 1 else line
    except UnicodeDecodeError:
        raise FormatError(undecodable(number + 1, encoding)) from None
    finally:
        text.detach()


# The first bytes of files that are never text: zip (xlsx, ods), old Excel, PDF, PNG, JPEG, GIF.
BINARY_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")
# Control characters no text file holds many of (tab, line breaks, form feed and escape left out).
_CONTROL = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32)])


def check_text(head: bytes, encoding: str, instead: str) -> None:
    """Refuse a file that is not text (a spreadsheet, an archive, an image), saying what to upload `instead`.

    A text file may hold a stray NUL or two (its row is rejected, not the file): only a head with many control
    characters, more than 1% of it, reads as binary."""
    if not head.startswith(BINARY_MAGIC):
        if codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
            return
        control = len(head) - len(head.translate(None, _CONTROL))
        if control <= max(8, len(head) // 100):
            return
    raise FormatError(f"This is not a text file (it may be a spreadsheet, an archive or an image); {instead}.")


def head_text(head: bytes, encoding: str) -> str:
    """The head decoded for sniffing and previews (a character cut at its end is dropped)."""
    return head.decode(encoding, "ignore").lstrip("\ufeff")
