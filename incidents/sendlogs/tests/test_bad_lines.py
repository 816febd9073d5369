"""A bad line or row is rejected by name and the good ones beside it are read: an unclosed quote and a line past
the limit in a CSV preview, a line past the limit in NDJSON (skipped in pieces, never held whole)."""

import io
import tracemalloc

import orjson

from incidents.sendlogs import Limits, Rejected, csv_sample, open_log, parse

LIMITS = Limits(max_line=100_000)


def generic_csv(bad: bytes, at: int = 31) -> bytes:
    rows = [b"email,time,status\n"]
    rows += [b"u%d@example.com,2026-11-20T13:%02d:00Z,sent\n" % (i, i % 60) for i in range(1, 50)]
    rows[at - 1] = bad
    return b"".join(rows)


def test_it_previews_a_csv_with_an_unclosed_quote_listing_the_row() -> None:
    data = generic_csv(b'u30@example.com,"2026-11-20T13:30:00Z,sent\n')

    sample = csv_sample(io.BytesIO(data), rows=2000)

    assert sample.header == ["email", "time", "status"]
    assert len(sample.rows) == 48
    [rejected] = sample.rejected
    assert rejected.ref == 31
    assert rejected.reason.startswith("a quoted field opens on line 31 and is not closed on it (an unclosed quote?)")
    assert "lines 32 to 50, which the field ran over, were read again as rows of their own" in rejected.reason


def test_it_previews_a_csv_with_a_line_past_the_limit_listing_the_row() -> None:
    data = generic_csv(b"u30@example.com,2026-11-20T13:30:00Z," + b"x" * 300_000 + b"\n")

    sample = csv_sample(open_log(io.BytesIO(data), LIMITS), rows=2000)

    assert len(sample.rows) == 48
    assert sample.rejected == [
        Rejected(
            31,
            "line 31 is longer than 100,000 bytes (the limit IMPORT_MAX_LINE_BYTES): it was skipped unread. "
            "Is it really one event or one row per line?",
        )
    ]


EVENT = {"event": "delivered", "email": "a@example.com", "timestamp": 1795179900, "sg_event_id": "e1"}


def test_it_rejects_an_ndjson_line_past_the_limit_by_number_and_reads_on() -> None:
    big = {**EVENT, "sg_event_id": "e2", "reason": "x" * 300_000}
    last = {**EVENT, "email": "c@example.com", "sg_event_id": "e3"}
    data = b"".join(orjson.dumps(e) + b"\n" for e in (EVENT, big, last))

    found = list(parse(open_log(io.BytesIO(data), LIMITS), "sendgrid_json"))

    assert [type(f).__name__ for f in found] == ["Event", "Rejected", "Event"]
    assert found[1].ref == 2
    assert found[1].reason.startswith("line 2 is longer than 100,000 bytes (the limit IMPORT_MAX_LINE_BYTES)")
    assert found[2].recipient == "c@example.com"


def test_it_skips_a_30_mb_line_in_bounded_pieces() -> None:
    lines = [orjson.dumps(EVENT), b"{" + b"x" * (30 * 1024**2), orjson.dumps({**EVENT, "sg_event_id": "e3"})]
    data = b"\n".join(lines) + b"\n"

    tracemalloc.start()
    try:
        found = list(parse(open_log(io.BytesIO(data), Limits(max_line=1024**2)), "sendgrid_json"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # A few times the 1 MB limit (the line as far as the limit, a piece of the rest), never the 30 MB line whole.
    assert peak < 8 * 1024**2

    assert [(type(f).__name__, f.ref) for f in found] == [("Event", 1), ("Rejected", 2), ("Event", 3)]
    assert "line 2 is longer than 1 MB" in found[1].reason
