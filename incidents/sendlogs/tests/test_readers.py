"""Tests of incidents.sendlogs.readers: encodings (detected, chosen, refused by line) and the bounds on input.

They need no Django: pytest incidents/sendlogs/tests/test_readers.py -p no:django --noconftest
"""

import gzip
import io
import resource
from pathlib import Path

import pytest

from incidents.sendlogs import FormatError, LimitError, Limits, csv_preview, detect_format, open_log, parse
from incidents.sendlogs.readers import detect_encoding, open_csv

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


def test_it_refuses_a_line_past_the_line_length() -> None:
    data = b"Email,Time,Name\n" + b"a@example.com,2026-11-20T13:05:00Z," + b"x" * 300_000 + b"\n"

    with pytest.raises(LimitError, match="IMPORT_MAX_LINE_BYTES"):
        rows(data, limits=Limits(max_line=100_000))
