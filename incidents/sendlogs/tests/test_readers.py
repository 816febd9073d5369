"""Tests of incidents.sendlogs.readers: encodings (detected, chosen, refused by line) and the bounds on input.

They need no Django: pytest incidents/sendlogs/tests/test_readers.py -p no:django --noconftest
"""

import gzip
import io
import resource
from pathlib import Path

import pytest

from incidents.sendlogs import (
    FormatError,
    LimitError,
    Limits,
    Rejected,
    csv_preview,
    detect_format,
    open_log,
    parse,
)
from incidents.sendlogs.csv_records import open_csv
from incidents.sendlogs.readers import detect_encoding

CASES = Path(__file__).parent.parent.parent / "tests" / "cases"
MAPPING = {"recipient": "Email", "time": "Time", "workflow": "Name"}


def rows(data: bytes, **options) -> list:
    return list(parse(open_log(io.BytesIO(data), options.pop("limits", None)), "csv", mapping=MAPPING, **options))


def test_it_detects_windows_1252_from_excel() -> None:
    data = (CASES / "10-excel-cp1252-semicolon.csv").read_bytes()

    header, body, encoding = csv_preview(io.BytesIO(data))

    assert encoding == "cp1252"
    assert header == ["Adresse e-mail", "Date d'envoi", "Campagne", "Statut"]
    assert body[0][2] == "Relance été"


def test_it_reads_utf16_unicode_text_from_excel() -> None:
    text = "Email\tTime\tName\r\nzoe@example.com\t2026-11-20T13:05:00Z\tZoë Müller\r\n"
    data = text.encode("utf-16")

    assert detect_encoding(data) == "utf-16"
    assert detect_format(data) == "csv"
    [event] = rows(data)
    assert (event.recipient, event.workflows) == ("zoe@example.com", ("Zoë Müller",))


def test_it_refuses_a_byte_that_does_not_fit_the_encoding_naming_the_line() -> None:
    data = (
        b"Email,Time,Name\r\n" + b"a@example.com,2026-11-20T13:05:00Z,ok\r\n" * 3 + b"b@example.com,2026,\xe9t\xe9\r\n"
    )

    with pytest.raises(FormatError, match=r"Line 5 cannot be read as UTF-8"):
        rows(data, encoding="utf-8")


def test_it_never_stores_a_replacement_character() -> None:
    data = (CASES / "10-excel-cp1252-semicolon.csv").read_bytes()

    found = open_csv(io.BytesIO(data))

    assert all("\ufffd" not in cell for _, row in found.rows for cell in row)


def test_it_reads_a_chosen_encoding() -> None:
    data = "Email;Time;Name\nq@example.com;2026-11-20T13:05:00Z;Relance été\n".encode("cp1252")

    [event] = rows(data, encoding="cp1252")

    assert event.workflows == ("Relance été",)


def peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_it_refuses_json_nested_30000_deep_naming_the_limit() -> None:
    data = b"[" * 30000 + b"]" * 30000
    before = peak_kb()

    with pytest.raises(LimitError, match="nested more than 64 levels deep .*IMPORT_MAX_JSON_DEPTH"):
        detect_format(data)
    with pytest.raises(LimitError, match="IMPORT_MAX_JSON_DEPTH"):
        list(parse(open_log(io.BytesIO(data)), "sendgrid_json"))

    assert peak_kb() - before < 50_000


def test_it_refuses_deep_nesting_inside_one_ndjson_line() -> None:
    line = b'{"event": "open", "email": "a@example.com", "timestamp": 1, "x": ' + b"[" * 100 + b"]" * 100 + b"}\n"
    data = b'{"event": "open", "email": "a@example.com", "timestamp": 1}\n' + line

    with pytest.raises(LimitError, match="IMPORT_MAX_JSON_DEPTH"):
        list(parse(open_log(io.BytesIO(data)), "sendgrid_json"))


def test_it_skips_brackets_inside_strings_when_counting_depth() -> None:
    reason = "[" * 200
    data = b'{"event": "dropped", "email": "a@example.com", "timestamp": 1, "reason": "' + reason.encode() + b'"}\n'

    [event] = list(parse(open_log(io.BytesIO(data), Limits(max_depth=8)), "sendgrid_json"))

    assert event.event == "rejected"


def test_it_refuses_a_gzip_bomb_by_its_ratio_with_bounded_memory() -> None:
    first = b'{"event": "open", "email": "a@example.com", "timestamp": 1}\n'
    bomb = gzip.compress(first + b"\n" * (16 * 1024 * 1024), compresslevel=9)  # 16 MB of newlines in ~16 KB
    before = peak_kb()

    with pytest.raises(LimitError, match="expands more than 50 times .*IMPORT_MAX_COMPRESSION_RATIO"):
        list(parse(open_log(io.BytesIO(bomb), Limits(max_ratio=50)), "sendgrid_json"))

    assert peak_kb() - before < 50_000


def test_it_refuses_a_file_past_the_decompressed_size() -> None:
    data = gzip.compress(b'{"event": "open", "email": "a@example.com", "timestamp": 1}\n' * 50_000)

    with pytest.raises(LimitError, match="IMPORT_MAX_DECOMPRESSED_BYTES"):
        list(parse(open_log(io.BytesIO(data), Limits(max_bytes=1024 * 1024)), "sendgrid_json"))


def test_it_rejects_a_line_past_the_line_length_and_reads_on() -> None:
    data = (
        b"Email,Time,Name\n"
        + b"a@example.com,2026-11-20T13:05:00Z,"
        + b"x" * 300_000
        + b"\n"
        + b"b@example.com,2026-11-20T13:06:00Z,ok\n"
    )

    [rejected, event] = rows(data, limits=Limits(max_line=100_000))

    assert (rejected.ref, event.recipient) == (2, "b@example.com")
    assert rejected.reason.startswith("line 2 is longer than 100,000 bytes (the limit IMPORT_MAX_LINE_BYTES)")


# An unclosed quote: csv reads the rows after it into the quoted field.
ACTIVITY = "processed,message_id,event,email,reason,type,categories\n"


def activity(*rows: str) -> bytes:
    """A SendGrid activity export: the header, then one row a line."""
    return (ACTIVITY + "".join(row + "\n" for row in rows)).encode()


def delivered(i: int) -> str:
    return f"2026-11-20T13:{i:02d}:00Z,m{i}.filter1,delivered,r{i}@example.com,,,trial"


BOUNCE = "2026-11-20T14:00:00Z,m13.filter1,bounce,gone@example.com,550 5.1.1 no such user,bounce,trial"


def refs(data: bytes) -> list[tuple[int, str]]:
    return [
        (item.ref, item.reason if isinstance(item, Rejected) else item.event)
        for item in parse(open_log(io.BytesIO(data)), "sendgrid_csv")
    ]


def test_it_names_an_unclosed_quote_and_reads_the_row_it_ran_over_on_its_own() -> None:
    stray = '2026-11-20T13:59:00Z,m12.filter1,"unterminated,delivered,r12@example.com,,,trial'
    data = activity(*(delivered(i) for i in range(2, 12)), stray, BOUNCE)

    found = refs(data)

    assert found[:10] == [(i, "delivered") for i in range(2, 12)]
    assert found[10:] == [
        (
            12,
            "a quoted field opens on line 12 and is not closed on it (an unclosed quote?): "
            "this row is not imported; line 13, which the field ran over, was read again on its own",
        ),
        (13, "bounced"),
    ]


@pytest.mark.parametrize(
    ("rest", "swallowed", "read"),
    [
        pytest.param([BOUNCE, delivered(14)], "lines 4 to 5", [4, 5], id="to-the-end-of-the-file"),
        # The next quote closes the field, and the category's text follows it.
        pytest.param(
            [BOUNCE, delivered(14).replace(",trial", ',"[""a"",""b""]"')],
            "lines 4 to 5",
            [4, 5],
            id="closed-by-a-field",
        ),
        # Closed by the quote that opens the bounce's category over two lines, at the end of line 4: strict csv reads
        # that, but the record has 5 fields and the header 7.
        pytest.param(
            [BOUNCE.replace(",trial", ',"'), 'trial"', delivered(14)], "line 4", [4, 6], id="closed-at-a-line-end"
        ),
    ],
)
def test_it_reads_every_row_after_an_unclosed_quote(rest: list[str], swallowed: str, read: list[int]) -> None:
    stray = '2026-11-20T13:59:00Z,m12.filter1,delivered,r12@example.com,"550 unterminated,,trial'
    data = activity(delivered(2), stray, *rest)

    found = refs(data)

    assert [ref for ref, _ in found] == [2, 3, *read]
    assert found[1][1].startswith("a quoted field opens on line 3 and is not closed on it (an unclosed quote?)")
    assert f"{swallowed}, which the field ran over, w" in found[1][1]
    assert found[2] == (4, "bounced")
    assert found[3] == (read[1], "delivered")


def test_it_reads_again_lines_an_unclosed_quote_ran_over_past_the_field_limit() -> None:
    rows = [delivered(i % 60) for i in range(3, 5003)]  # ~300 KB: past csv's 128 KB for one field
    data = activity('2026-11-20T13:00:00Z,m2.filter1,"unterminated,delivered,r@example.com,,', *rows)

    found = refs(data)

    assert found[0][0] == 2
    assert found[0][1].startswith("a quoted field opens on line 2 and is not closed on it (an unclosed quote?)")
    assert found[1:] == [(i, "delivered") for i in range(3, 5003)]


def test_it_reads_a_properly_closed_field_over_two_lines_as_one() -> None:
    reason = '"550 5.1.1 The email account that you tried to reach does not exist.\nPlease check the address."'
    data = activity(delivered(2), BOUNCE.replace("550 5.1.1 no such user", reason), delivered(5))

    found = list(parse(open_log(io.BytesIO(data)), "sendgrid_csv"))

    assert [(item.ref, item.event) for item in found] == [(2, "delivered"), (3, "bounced"), (5, "delivered")]
    assert found[1].detail == (
        "hard: 550 5.1.1 The email account that you tried to reach does not exist. Please check the address."
    )


def test_it_names_an_unclosed_quote_in_any_csv_and_keeps_the_rows_around_it() -> None:
    data = b'email,name\r\na@example.com,"Ann\r\nb@example.com,Bo\r\nc@example.com,"Cy\r\nDee"\r\n'

    found = open_csv(io.BytesIO(data))

    rows = list(found.rows)
    assert rows[0][0] == 2
    assert rows[0][1].reason.startswith("a quoted field opens on line 2 and is not closed on it")
    assert rows[1:] == [(3, ["b@example.com", "Bo"]), (4, ["c@example.com", "Cy\r\nDee"])]
