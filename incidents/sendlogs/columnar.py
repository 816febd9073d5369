"""The fast reader for SendGrid Event Webhook logs with one record a line (NDJSON, or a JSON array a record a line).

Polars reads each chunk of lines in native code on every core, and the common record (a string address, a
known event without a reason, an integer time, SendGrid's own message and event ids, categories a string or a
list of strings) becomes a row of typed columns without a Python object per record. Every other record, and any
chunk Polars cannot read or that could be read differently (bad UTF-8, escaped surrogates, blank or odd lines),
goes through the same Python code as before (`sendgrid.convert` behind the line readers), so what is imported,
what is rejected and the line numbers are those of the Python reader.  Polars' string fields are read as Binary
and its numbers as Int64: those are strict (a number in a string field, or 5.0 in an integer field, reads as
null), and a null sends the record to Python unless the field is absent from the line. Categories are read as
text (a list as Polars writes it back); the line tells a list from a string, and anything that reads like a
number, true or false goes to Python.

Known difference, on records no ESP writes: a JSON object with the same key twice (orjson keeps the last,
Polars the first).
"""

from __future__ import annotations

import io
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
import polars as pl
import polars_hash as plh

from incidents.vocabulary import EventType

from . import sendgrid
from .readers import DAMAGED, array_edges, broken_array, configure, cut_short, damaged, too_deep
from .records import Event, Rejected, unique

FORMATS = (sendgrid.FORMAT,)
LOAD_COLUMNS = ("key", "recipient", "recipient_raw", "occurred_at", "event", "message_id", "workflows", "esp_event_id")
# Big enough for Polars to spread over the cores, small enough for flat memory (FAST_CHUNKS chunks and their
# frames at a time): at 3 MB a 1,000,000-event import peaked at 265-279 MB, at 4 MB at 293-297 MB.
CHUNK_BYTES = 3 * 1024**2
# Chunks Polars reads side by side (each in a thread; Polars and hashing let go of the GIL).
FAST_CHUNKS = 2
# Read in pieces like the Python readers' buffer: a damaged gzip loses at most one piece.
READ_BYTES = 64 * 1024

SCHEMA = {
    "email": pl.Binary,
    "event": pl.Binary,
    "timestamp": pl.Int64,
    "sg_message_id": pl.Binary,
    "sg_event_id": pl.Binary,
    # As text: a list comes as its JSON (re-written by Polars), which is twice as fast to read as a list.
    "category": pl.String,
    "marketing_campaign_id": pl.Int64,
    "marketing_campaign_name": pl.Binary,
}
# Fields a record may lack; a null in them is read as "absent" only when the key is not in the line.
OPTIONAL = ("marketing_campaign_id", "marketing_campaign_name")
# A category's text that a number or true/false would also give (convert() drops those, keeps a string).
NUMBER_LIKE = r"^(-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false)$"
LISTED = r'"category"\s*:\s*\['
# Category kinds in the workflow lookup.
NONE, TEXT, LIST = "n", "s", "l"
# SendGrid words whose records carry no detail (convert() reads "type", "reason" or "response" for the others).
FAST_WORDS = {
    word: event.value
    for word, event in sendgrid.VOCABULARY.items()
    if word != "bounce" and event not in (EventType.DEFERRED, EventType.REJECTED)
}
# An address that strip() and lower() treat the same in Python and in Polars, and that needs no parseaddr().
PLAIN_ADDRESS = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$"
# A key written with an escape ("c\u0061tegory") hides from the byte search for an absent key.
ESCAPED_KEY = re.compile(rb'\\u[0-9a-fA-F]{4}[^"\n]*"\s*:')
SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
MAX_EPOCH = 100_000_000_000  # above this epoch() reads milliseconds
SEPARATORS = "[\x02\x1e\x1f]"
# What COPY's text format would read as an escape or the end of a field or row, and the NUL no text can hold: a
# field with one goes to Python (which rejects a NUL, see records.nul_field).
PLAIN_TEXT = r"[\t\n\r\\\x00]"


@dataclass(slots=True)
class Split:
    """A chunk cut for reading: `head` and `last` are lines for Python, `body` whole records for Polars."""

    head: bytes
    body: bytes
    last: bytes


# What Polars read of a chunk's body: the load columns, the indexes of the lines Python must read, their COPY text.
FastRead = tuple[pl.DataFrame, list[int], bytes]


@dataclass(slots=True)
class Batch:
    """Records read by Polars as the columns of SendEvent (LOAD_COLUMNS, ready for COPY in its text format; the
    time also as epoch seconds in `ts`), `records` of them."""

    frame: pl.DataFrame
    records: int
    text: bytes | None = None

    def copy_text(self) -> bytes:
        """The LOAD_COLUMNS in COPY's text format (tab-separated, a row a line, no header); made once, by
        _fast_text in a Polars thread. Written as they are, unescaped: a plain record holds no tab, line break,
        backslash or NUL in any field (see PLAIN_TEXT), and no field is null. PostgreSQL reads this format 13%
        faster than CSV (1.45 against 1.67 s for 1,000,000 rows) and Polars writes it 17% faster."""
        if self.text is None:
            self.text = (
                self.frame.select(LOAD_COLUMNS)
                .write_csv(include_header=False, separator="\t", quote_style="never")
                .encode()
            )
        return self.text


def records(stream: BinaryIO, layout: str) -> Iterator[Batch | list[Event | Rejected]]:
    """Batches, and lists of single records, in file order, from a SendGrid log of one of the line layouts.

    Polars reads the next FAST_CHUNKS chunks side by side in threads of their own while this generator hands on
    the one before (its records in order, its line numbers, where a broken array stops the file): with the
    database loading a third chunk, both cores stay busy. A chunk read ahead of a stop is dropped unread.
    """
    # A line past the line limit still refuses the whole file here (the Python readers reject that line alone):
    # Polars reads whole chunks, and finding such a line inside one would cost every chunk a scan.
    configure(stream, lines=True, depth=False)
    state = _Lines(stream, layout == "array_lines")
    pending: deque[tuple[Split, Future | None, bool]] = deque()
    ended = broken = False
    with ThreadPoolExecutor(max_workers=FAST_CHUNKS, thread_name_prefix="sendlog-polars") as pool:
        try:
            while True:
                while not (ended or broken or state.stopped) and len(pending) < FAST_CHUNKS:
                    block, broken = _read_chunk(stream)
                    ended = len(block) == 0
                    split = state.split(block)
                    fast = pool.submit(_fast_text, split.body, state.array) if split.body else None
                    pending.append((split, fast, broken))
                if not pending or state.stopped:
                    break
                split, fast, cut = pending.popleft()
                yield from _grouped(state.chunk(split, fast.result if fast else None))
                if cut:
                    if not state.stopped:
                        yield [damaged(state.number + 1)]
                    return
        finally:
            for _, fast, _ in pending:
                if fast is not None:
                    fast.cancel()
    if state.array and not state.closed and not state.stopped:
        yield [Rejected(state.number + 1, cut_short(state.number))]


def _grouped(items: Iterator[Batch | Event | Rejected]) -> Iterator[Batch | list[Event | Rejected]]:
    """Single records gathered in lists, so a thread hands them on a chunk at a time."""
    single: list[Event | Rejected] = []
    for item in items:
        if type(item) is Batch:
            if single:
                yield single
                single = []
            yield item
        else:
            single.append(item)
    if single:
        yield single


def ahead(items: Iterator, depth: int = 1) -> Iterator:
    """The items of `items`, worked out in a thread of their own up to `depth` ahead: Polars and the database
    driver both let go of the GIL, so reading the next chunk overlaps loading this one. An error of the reader
    is raised here; stopping early (closing this generator) stops the thread."""
    done = object()
    found: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                found.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            put(error)
            return
        put(done)

    thread = threading.Thread(target=work, name="sendlog-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = found.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _read_chunk(stream: BinaryIO) -> tuple[bytes, bool]:
    """About CHUNK_BYTES of whole lines (the last line of the file may lack its newline); True when a
    compressed file broke off, with the whole lines read until then."""
    parts: list[bytes] = []
    size = 0
    try:
        while size < CHUNK_BYTES:
            piece = stream.read(READ_BYTES)
            if not piece:
                return b"".join(parts), False
            parts.append(piece)
            size += len(piece)
        if not parts[-1].endswith(b"\n"):
            parts.append(stream.readline())
    except DAMAGED:
        block = b"".join(parts)
        return block[: block.rfind(b"\n") + 1], True
    return b"".join(parts), False


class _Lines:
    """The line readers' state across chunks: the record number, the array's closing bracket, a stop."""

    def __init__(self, stream: BinaryIO, array: bool) -> None:
        self.stream = stream
        self.array = array
        self.number = 0
        self.closed = False
        self.stopped = False
        self.first = True

    def split(self, block: bytes) -> Split:
        """A chunk's lines Python reads first (the array's "[" line), the whole records Polars may read, and a
        last line without its newline (or "]")."""
        head = b""
        if self.first and block:
            # The array's "[" line (or a first record on it) goes through Python.
            self.first = False
            if self.array and not block.startswith(b"{"):
                cut = block.find(b"\n") + 1 or len(block)
                head, block = block[:cut], block[cut:]
        last = b""
        if not block.endswith((b"}\n", b"},\n")):
            # "]", or a last line without its newline
            cut = block.rfind(b"\n", 0, len(block) - 1) + 1
            block, last = block[:cut], block[cut:]
        return Split(head, block, last)

    def chunk(self, split: Split, fast: Callable[[], FastRead | None] | None) -> Iterator[Batch | Event | Rejected]:
        """The chunk's records in order; `fast` gives what Polars read of its body (None: Python reads it)."""
        if split.head:
            yield from self.python([split.head])
        if split.body:
            read = None if self.closed or self.stopped or fast is None else fast()
            if read is None:
                yield from self.python(_lines(split.body))
            else:
                yield from self._merge(split.body, *read)
        if split.last:
            yield from self.python([split.last])

    def _merge(
        self, block: bytes, frame: pl.DataFrame, slow: list[int], copy_text: bytes
    ) -> Iterator[Batch | Event | Rejected]:
        # Records Polars left to Python keep their numbers: record i of the chunk is number + 1 + i.
        # A record of an array that orjson cannot read stops the file there: then the chunk is read by
        # Python alone, so nothing after it is imported.
        base = self.number
        items: list[Event | Rejected] = []
        lines = _lines(block) if slow else []
        for i in slow:
            text = lines[i].rstrip(b" \t\r\n,") if self.array else lines[i]
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                if self.array:
                    yield from self.python(lines)
                    return
                items.extend(self._ndjson_line(base + 1 + i, lines[i]))
                continue
            items.extend(_convert(base + 1 + i, value, self.array))
        self.number = base + block.count(b"\n")
        yield from items
        if frame.height:
            yield Batch(frame, frame.height, copy_text)

    def python(self, lines: list[bytes]) -> Iterator[Event | Rejected]:
        """Lines read exactly as readers._ndjson / readers._array_lines read them."""
        for line in lines:
            if self.stopped:
                return
            if self.array:
                yield from self._array_line(line)
            else:
                self.number += 1
                yield from self._ndjson_line(self.number, line)

    def _ndjson_line(self, number: int, line: bytes) -> list[Event | Rejected]:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            too_deep(error, self.stream)
            if line.strip():
                return [Rejected(number, f"broken JSON: {error.msg} at column {error.colno}")]
            return []
        return _convert(number, value, False)

    def _array_line(self, line: bytes) -> list[Event | Rejected]:
        text = line.rstrip(b" \t\r\n,")
        if not text:
            return []
        if self.closed:
            self.stopped = True
            return [Rejected(self.number + 1, "unexpected text after the end of the JSON array")]
        if text[:1] != b"{" or text[-1:] != b"}":
            text, self.closed = array_edges(text, self.number == 0)
            if not text:
                return []
        self.number += 1
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            too_deep(error, self.stream)
            self.stopped = True
            cut = not line.endswith(b"\n")
            number = self.number
            return [Rejected(number, cut_short(number - 1) if cut else broken_array(number, error.msg))]
        return [sendgrid.convert(self.number, value)]


def _lines(block: bytes) -> list[bytes]:
    """The lines of a block, each with its newline (the last may lack one), as iterating a file gives them."""
    lines = [line + b"\n" for line in block.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    return lines


def _convert(number: int, value: Any, array: bool) -> list[Event | Rejected]:
    if not array and value.__class__ is list:  # one webhook POST body (a batch) per NDJSON line
        return [sendgrid.convert(number, item) for item in value]
    return [sendgrid.convert(number, value)]


def _fast(block: bytes, array: bool) -> tuple[pl.DataFrame, list[int]] | None:
    """The chunk's plain records as staging columns, and the indexes of the lines Python must read; None when
    the whole chunk goes to Python. `block` is whole lines, each ending with "}\n" or (in an array) "},\n"."""
    n = block.count(b"\n")
    # Escapes are rare in these logs: look for the odd ones only when there is one at all (a one-byte
    # search first: it runs at memory speed, the two-byte one does not).
    escapes = b"\\" in block and b"\\u" in block
    # Polars reads escaped lone surrogates that orjson refuses.
    if escapes and SURROGATE.search(block):
        return None
    if array:
        # A space for the array's comma: Polars reads "} " as the end of a line's object, and a replacement
        # of the same length is a copy and a search, not a rebuild (three times faster).
        block = block.replace(b"},\n", b"} \n")
    try:
        df = pl.read_ndjson(io.BytesIO(block), schema=SCHEMA, ignore_errors=True)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return None
    # A line Polars skipped (blank) or split would shift the numbers; a line that is no JSON object reads
    # as a row of nulls and goes to Python.
    if df.height != n:
        return None
    # Optional keys that appear nowhere in the chunk are absent from every record.
    hidden = escapes and ESCAPED_KEY.search(block) is not None
    present = {name: f'"{name}"'.encode() in block for name in OPTIONAL}
    nulls = {name: df[name].null_count() for name in OPTIONAL}
    lines: list[pl.Series] = []

    def raw() -> pl.Series:
        if not lines:
            lines.append(pl.Series(block.split(b"\n")[:n], dtype=pl.Binary))
        return lines[0]

    category = pl.col("category")
    plain = (
        pl.col("email").str.contains(PLAIN_ADDRESS)
        & (pl.col("email").str.len_chars() <= 254)
        & pl.col("event").is_in(list(FAST_WORDS))
        & pl.col("timestamp").is_between(0, MAX_EPOCH)
        & pl.col("sg_message_id").str.contains(".filter", literal=True)
        & ~pl.col("sg_message_id").str.starts_with(".filter")
        & (pl.col("sg_event_id").str.len_chars() <= 255)
        # An object, or a number or true/false (or a string that reads like one): Python tells them apart.
        & ~category.str.starts_with("{").fill_null(False)
        & ~category.str.contains(NUMBER_LIKE).fill_null(False)
        # The separators of the workflow lookup below.
        & ~category.str.contains(SEPARATORS).fill_null(False)
        & ~pl.col("marketing_campaign_name").str.contains(SEPARATORS).fill_null(False)
    ).fill_null(False)
    if b"\\" in block or b"\t" in block or b"\r" in block or b"\x00" in block:
        # A tab, a line break, a backslash or a NUL in a field is written by a JSON escape (or raw, which Polars
        # reads inside a string): the fields COPY reads as text are searched only then.
        for name in ("sg_message_id", "sg_event_id", "category", "marketing_campaign_name"):
            plain = plain & ~pl.col(name).str.contains(PLAIN_TEXT).fill_null(False)
    if hidden:
        # Records with an escaped key go to Python whatever their fields.
        plain = plain & ~pl.lit(raw().cast(pl.String).str.contains(ESCAPED_KEY.pattern.decode()))
    # A null optional field counts as absent only when its key is not in the record's line (a campaign id in
    # quotes is not); the lines are looked at only when some record has the key.
    for name in OPTIONAL:
        if present[name] and nulls[name]:
            plain = plain & (pl.col(name).is_not_null() | ~pl.lit(raw().bin.contains(f'"{name}"'.encode())))
    # A category that starts with "[" is a list when the line has one there, else a string that starts so.
    kind = pl.when(category.is_null()).then(pl.lit(NONE)).otherwise(pl.lit(TEXT))
    if df["category"].str.starts_with("[").any():
        if block.count(b'"category"') == block.count(b'"category":['):
            # Every "category" key of the chunk opens a list (escaped keys went to Python above).
            listed = pl.lit(True)
        else:
            found = raw().bin.contains(b'"category":[')
            if not found.all():
                found = found | raw().cast(pl.String).str.contains(LISTED)
            listed = pl.lit(found)
        kind = pl.when(category.str.starts_with("[") & listed).then(pl.lit(LIST)).otherwise(kind)
    lazy = (
        df.lazy()
        .with_row_index("i")
        .with_columns(
            email=pl.col("email").cast(pl.String),
            event=pl.col("event").cast(pl.String),
            sg_message_id=pl.col("sg_message_id").cast(pl.String),
            sg_event_id=pl.col("sg_event_id").cast(pl.String),
            marketing_campaign_name=pl.col("marketing_campaign_name").cast(pl.String),
        )
        .with_columns(plain=plain, kind=kind)
    )
    slow, df = pl.collect_all([lazy.filter(~pl.col("plain")).select("i"), lazy.filter(pl.col("plain"))])
    frame, odd = _columns(df)
    return frame, sorted(slow["i"].to_list() + odd)


def _fast_text(block: bytes, array: bool) -> FastRead | None:
    """_fast(), with the COPY text made in the same thread."""
    read = _fast(block, array)
    if read is None:
        return None
    frame, slow = read
    return frame, slow, Batch(frame, frame.height).copy_text() if frame.height else b""


def _columns(df: pl.DataFrame) -> tuple[pl.DataFrame, list[int]]:
    """The load columns of the plain records, and the indexes of those whose list of categories holds
    something else than strings (Python reads them)."""
    combo = pl.concat_str(
        "kind",
        pl.col("category").fill_null(""),
        pl.col("marketing_campaign_id").cast(pl.String).fill_null("\x02"),
        pl.col("marketing_campaign_name").fill_null("\x02"),
        separator="\x1f",
    )
    df = df.with_columns(combo=combo)
    names: dict[str, str | None] = {}
    for key, kind, category, campaign_id, campaign in (
        df.select("combo", "kind", "category", "marketing_campaign_id", "marketing_campaign_name")
        .unique("combo")
        .iter_rows()
    ):
        names[key] = _workflows(kind, category, campaign_id, campaign)
    odd = [key for key, name in names.items() if name is None]
    if odd:
        found = pl.col("combo").is_in(odd)
        slow = df.filter(found)["i"].to_list()
        df = df.filter(~found)
    else:
        slow = []
    recipient = pl.col("email").str.to_lowercase()
    event = pl.col("event").replace_strict(FAST_WORDS, return_dtype=pl.String)
    message_id = pl.col("sg_message_id").str.split(".filter").list.first()
    by_event = pl.concat_str(
        pl.lit("ev"),
        message_id,
        event,
        recipient,
        pl.col("timestamp").cast(pl.String) + ".000000",
        separator="\x1f",
    )
    esp_id = pl.col("sg_event_id").fill_null("")
    frame = df.select(
        keysrc=pl.when(esp_id != "").then(pl.lit("id\x1f") + esp_id).otherwise(by_event),
        recipient=recipient,
        recipient_raw=pl.when(pl.col("email") == recipient).then(pl.lit("")).otherwise(pl.col("email")),
        ts=pl.col("timestamp"),
        event=event,
        message_id=message_id.str.slice(0, 255),
        workflows=pl.col("combo").replace_strict(names, return_dtype=pl.String),
        esp_event_id=esp_id,
    )
    # The key as imports.staging_rows() makes it: md5 of the ESP's event id, else of what the event says, in
    # hex (polars-hash: native, and it lets go of the GIL while the main thread sends the last chunk).
    return frame.select(
        key=plh.col("keysrc").nchash.md5(),
        recipient="recipient",
        recipient_raw="recipient_raw",
        occurred_at=pl.from_epoch("ts", time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S+00"),
        event="event",
        message_id="message_id",
        workflows="workflows",
        esp_event_id="esp_event_id",
        ts="ts",
    ), slow


def _workflows(kind: str, category: str | None, campaign_id: int | None, campaign: str | None) -> str | None:
    """SendEvent.workflows as convert() and imports.staging_rows() make them; None when Python must read the
    record (a list holding more than strings: Polars wrote 5.0 as 5)."""
    if kind == LIST:
        try:
            found = orjson.loads(category)
        except orjson.JSONDecodeError:
            return None
        if found.__class__ is not list or any(item.__class__ is not str for item in found):
            return None
    else:
        found = [] if kind == NONE else [category]
    names = unique([*found, campaign_id, campaign])
    return "|" + "|".join(w.replace("|", "/") for w in names) + "|" if names else ""
