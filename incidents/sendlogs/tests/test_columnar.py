"""The columnar (Polars) reader of SendGrid line logs gives exactly what the Python reader gives."""

from __future__ import annotations

import gzip
import io
import threading
from datetime import UTC, datetime

import orjson
import pytest

from incidents.imports import staging_rows
from incidents.models import Import
from incidents.sendlogs import LimitError, Limits, columnar, open_log, parse, parse_columnar
from incidents.sendlogs.columnar import Batch

PLAIN = {
    "email": "Person@Example.com",
    "timestamp": 1795184822,
    "event": "delivered",
    "sg_event_id": "ZGVsaXZlcmVkLTA",
    "sg_message_id": "b0000001m0000.filter0001p1las1-28893-5B3F3A4C-1.0",
    "smtp-id": "<b0000001m0000@ismtpd0001p1las1.sendgrid.net>",
    "category": ["trial-nurture-v2", "onboarding"],
    "marketing_campaign_id": 4242,
}


def variants() -> list[dict | str]:
    """Plain records and every kind of odd one, as objects (or raw lines as str)."""
    odd: list[dict | str] = []
    for i in range(40):
        odd.append({**PLAIN, "sg_event_id": f"e{i}", "email": f"p{i % 7}@example.com", "timestamp": 1795184822 + i})
    changes = [
        {"email": "  Spaced@Example.com "},
        {"email": "Name <named@example.com>"},
        {"email": "no-at-sign"},
        {"email": 5},
        {"email": None},
        {"email": "ünï@example.com"},
        {"event": "bounce", "type": "bounce", "reason": "550 no such user"},
        {"event": "bounce", "type": "blocked", "reason": "blocked"},
        {"event": "deferred", "response": "try later"},
        {"event": "dropped", "reason": "Bounced Address"},
        {"event": "spamreport"},
        {"event": "group_resubscribe"},
        {"event": "Processed_Message"},
        {"event": "no-such-event"},
        {"event": 3},
        {"timestamp": 1795184822.5},
        {"timestamp": 1.0e9},
        {"timestamp": "1795184822"},
        {"timestamp": 1795184822123},
        {"timestamp": -5},
        {"timestamp": True},
        {"timestamp": None},
        {"sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.1"},
        {"sg_message_id": "no-filter-part.abc"},
        {"sg_message_id": ".filter-first"},
        {"sg_message_id": None},
        {"sg_message_id": 12},
        {"sg_message_id": "m" * 300 + ".filter1"},
        {"sg_event_id": ""},
        {"sg_event_id": 77},
        {"sg_event_id": 7.0},
        {"sg_event_id": True},
        {"sg_event_id": ["x"]},
        {"sg_event_id": "true"},
        {"sg_event_id": "x" * 300},
        {"sg_event_id": None},
        {"category": "single"},
        {"category": " padded "},
        {"category": ["a", 5, 5.0, True, None, {"x": 1}, ["y"]]},
        {"category": ["a|b", "a|b", " c "]},
        {"category": []},
        {"category": None},
        {"category": 9},
        {"category": '["looks", "like", "json"]'},
        {"category": ["\x1esep"]},
        {"marketing_campaign_id": "4242"},
        {"marketing_campaign_id": 4.5},
        {"marketing_campaign_id": None},
        {"marketing_campaign_name": " Spring sale "},
        {"marketing_campaign_name": 11},
        # What COPY's text format would read as a field's or a row's end, or an escape.
        {"sg_message_id": "tab\there.filter1"},
        {"sg_message_id": "back\\slash.filter1"},
        {"sg_event_id": "line\nbreak"},
        {"sg_event_id": "carriage\rreturn"},
        {"category": "tab\tin a string"},
        {"category": ["back\\slash", "plain"]},
        {"marketing_campaign_name": "two\nlines"},
        {"sg_event_id": "nul\x00"},
        {"category": ["nul\x00"]},
    ]
    for n, change in enumerate(changes):
        odd.append({**PLAIN, "sg_event_id": f"odd{n}", **change})
    for n, drop in enumerate(["category", "marketing_campaign_id", "sg_event_id", "email", "timestamp"]):
        record = {**PLAIN, "sg_event_id": f"drop{n}"}
        record.pop(drop)
        odd.append(record)
    odd += [
        "[1, 2]",
        '"just a string"',
        '{"email": "esc@example.com", "timestamp": 1795184822, "event": "delivered", "sg_event_id": "esc", '
        '"sg_message_id": "m1.filter1", "c\\u0061tegory": "hidden"}',
        '{"email": "dup@example.com", "timestamp": 1795184822, "event": "open", "sg_event_id": "again", '
        '"sg_message_id": "m9.filter1"}',
        '{"email": "dup@example.com", "timestamp": 1795184822, "event": "open", "sg_event_id": "again", '
        '"sg_message_id": "m9.filter1"}',
        {**PLAIN, "sg_event_id": "", "email": "NoId@Example.com"},
    ]
    return odd


def line_of(record: dict | str) -> bytes:
    return record.encode() if isinstance(record, str) else orjson.dumps(record)


def as_array(records: list, *, tail: bytes = b"\n]\n") -> bytes:
    return b"[\n" + b",\n".join(line_of(r) for r in records) + tail


def as_ndjson(records: list) -> bytes:
    return b"".join(line_of(r) + b"\n" for r in records)


def python_result(data: bytes) -> tuple[list, list]:
    imp = Import()
    rows = sorted(staging_rows(imp, parse(open_log(io.BytesIO(data)), "sendgrid_json")))
    return rows, [(e["ref"], e["reason"]) for e in imp.errors]


def columnar_result(data: bytes, fast: list | None = None) -> tuple[list, list]:
    imp = Import()
    rows = []
    events = []
    found = parse_columnar(open_log(io.BytesIO(data)), "sendgrid_json")
    assert found is not None
    for item in found:
        if type(item) is Batch:
            if fast is not None:
                fast.append(item.records)
            for key, recipient, raw, at, event, message_id, workflows, esp_id, ts in item.frame.iter_rows():
                assert at == datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
                rows.append((key, recipient, raw, repr(float(ts)), event, message_id, workflows, esp_id, ""))
        else:
            events.extend(item)
    rows += list(staging_rows(imp, iter(events)))
    return sorted(rows), [(e["ref"], e["reason"]) for e in imp.errors]


@pytest.fixture(params=[columnar.CHUNK_BYTES, 700, 150], ids=["one-chunk", "small-chunks", "tiny-chunks"])
def chunk(request, monkeypatch):
    monkeypatch.setattr(columnar, "CHUNK_BYTES", request.param)
    monkeypatch.setattr(columnar, "READ_BYTES", min(columnar.READ_BYTES, request.param))


@pytest.mark.parametrize("layout", ["array", "ndjson"])
def test_it_reads_every_record_as_the_python_reader_does(chunk, layout):
    records = variants()
    if layout == "array":
        # A line of an array that is no object ("[1, 2],") sends its whole chunk to Python: tested below.
        records = [r for r in records if not isinstance(r, str) or r.startswith("{")]
    data = as_array(records) if layout == "array" else as_ndjson(records)
    fast: list[int] = []

    rows, errors = columnar_result(data, fast)

    assert (rows, errors) == python_result(data)
    assert len(rows) > 40 and errors
    assert sum(fast) >= 40  # the plain ones went through Polars


def test_it_writes_each_batch_as_copy_text_with_nothing_copy_would_read_as_an_escape(chunk):
    found = parse_columnar(open_log(io.BytesIO(as_ndjson(variants()))), "sendgrid_json")
    batches = [item for item in found if type(item) is Batch]

    assert sum(batch.records for batch in batches) >= 40
    for batch in batches:
        text = batch.copy_text().decode()
        assert "\\" not in text and "\r" not in text and "\x00" not in text
        lines = text.split("\n")
        assert lines.pop() == ""
        # Field for field what the frame holds, a row a line: COPY reads it back as it is.
        assert [line.split("\t") for line in lines] == [
            [str(value) for value in row] for row in batch.frame.select(columnar.LOAD_COLUMNS).iter_rows()
        ]


def test_it_leaves_a_chunk_with_an_escaped_lone_surrogate_to_python():
    records = [*variants(), '{"email": "sur\\ud800@example.com", "timestamp": 1, "sg_message_id": "m1.filter1"}']
    fast: list[int] = []

    assert columnar_result(as_ndjson(records), fast) == python_result(as_ndjson(records))
    assert fast == []


def test_it_reads_plain_records_without_python():
    records = [{**PLAIN, "sg_event_id": f"e{i}"} for i in range(1000)]
    found = list(parse_columnar(open_log(io.BytesIO(as_array(records))), "sendgrid_json"))

    assert sum(item.records for item in found if type(item) is Batch) == 1000
    assert columnar_result(as_array(records)) == python_result(as_array(records))


@pytest.mark.parametrize(
    "data",
    [
        as_array([PLAIN, "{broken", {**PLAIN, "sg_event_id": "after"}]),
        as_array([PLAIN, "[1, 2]", '"text"', {**PLAIN, "sg_event_id": "after"}]),
        as_array([PLAIN, {**PLAIN, "sg_event_id": "x"}], tail=b"\n"),
        as_array([PLAIN], tail=b"\n]\n" + line_of(PLAIN) + b"\n"),
        as_array([PLAIN, {**PLAIN, "sg_event_id": "last"}], tail=b"]"),
        as_ndjson([PLAIN, "{broken", "", {**PLAIN, "sg_event_id": "after"}]),
        as_ndjson([PLAIN]) + b"\r\n" + line_of({**PLAIN, "sg_event_id": "crlf"}) + b"\r\n",
        as_ndjson([PLAIN, [PLAIN, {**PLAIN, "sg_event_id": "batched"}], {**PLAIN, "sg_event_id": "z"}]),
        as_ndjson([PLAIN])[:-1],
    ],
    ids=[
        "broken-record",
        "not-objects",
        "cut-short",
        "text-after",
        "no-final-newline",
        "ndjson-broken",
        "crlf",
        "batches",
        "eof",
    ],
)
def test_it_stops_and_rejects_where_the_python_reader_does(chunk, data):
    assert columnar_result(data) == python_result(data)


def test_it_keeps_what_was_read_before_a_damaged_gzip(chunk):
    records = [{**PLAIN, "sg_event_id": f"e{i}"} for i in range(3000)]
    packed = gzip.compress(as_ndjson(records))
    data = packed[: len(packed) // 2]

    rows, errors = columnar_result(data)

    # As many whole lines as were decompressed before the break (the Python reader's buffer differs).
    assert 0 < len(rows) < 3000
    assert errors == [(len(rows) + 1, "the compressed file is damaged or cut short; the rest could not be read")]
    assert python_result(data)[1][-1][1] == errors[-1][1]


def test_it_keeps_the_upload_limits():
    records = [{**PLAIN, "sg_event_id": f"e{i}"} for i in range(200)]
    with pytest.raises(LimitError):
        list(parse_columnar(open_log(io.BytesIO(as_ndjson(records)), Limits(max_bytes=10_000)), "sendgrid_json"))
    long_line = as_ndjson([PLAIN, {**PLAIN, "reason": "x" * 300_000}])
    with pytest.raises(LimitError):
        list(parse_columnar(open_log(io.BytesIO(long_line), Limits(max_line=100_000)), "sendgrid_json"))


def test_it_leaves_other_layouts_and_formats_to_the_python_reader():
    pretty = orjson.dumps([PLAIN, PLAIN], option=orjson.OPT_INDENT_2)
    assert parse_columnar(open_log(io.BytesIO(pretty)), "sendgrid_json") is None
    assert parse_columnar(open_log(io.BytesIO(as_ndjson([PLAIN]))), "mailgun") is None


def test_it_stops_the_reader_thread_when_the_import_stops_reading():
    items = columnar.ahead(iter(range(1000)))
    assert next(items) == 0

    items.close()

    assert not any(thread.name == "sendlog-reader" for thread in threading.enumerate())


def test_it_raises_the_readers_error_where_the_records_are_read():
    def broken():
        yield 1
        raise LimitError("This file is larger than 1 MB once decompressed.")

    items = columnar.ahead(broken())

    assert next(items) == 1
    with pytest.raises(LimitError, match="larger than 1 MB"):
        next(items)


def test_it_stops_the_polars_threads_when_the_import_stops_reading(monkeypatch):
    monkeypatch.setattr(columnar, "CHUNK_BYTES", 700)
    lines = [dict(PLAIN, sg_event_id=f"e{n}", timestamp=PLAIN["timestamp"] + n) for n in range(200)]
    items = parse_columnar(open_log(io.BytesIO(as_ndjson(lines))), "sendgrid_json")
    first = next(items)
    assert isinstance(first, columnar.Batch)

    items.close()

    names = [thread.name for thread in threading.enumerate()]
    assert not [name for name in names if name.startswith(("sendlog-reader", "sendlog-polars"))]
