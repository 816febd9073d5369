import struct
import subprocess
import zlib

import pytest
import segno

from apologies.letters import qr

LINKS = [
    "https://amends.example.com/sorry/x",
    "https://amends.example.com/sorry/eyJyIjoxMjM0NTZ9:1tXyZa:abcdefghijklmnopqrstuvwxyz0123456789ABC",
    "https://sorry.example.co.uk/sorry/" + "A" * 180 + ":1tXyZa:" + "b" * 43,
]


def png_pixels(png: bytes) -> tuple[int, list[bytes]]:
    """(side, rows) of an 8-bit grey, unfiltered PNG as qr.png_grey writes it."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert (width, depth, colour) == (height, 8, 0)
    idat = png.index(b"IDAT")
    length = struct.unpack(">I", png[idat - 4 : idat])[0]
    raw = zlib.decompress(png[idat + 4 : idat + 4 + length])
    rows = [raw[i : i + width + 1] for i in range(0, len(raw), width + 1)]
    assert all(row[0] == 0 for row in rows)  # filter "none" on every row
    return width, [row[1:] for row in rows]


@pytest.mark.parametrize("link", LINKS)
def test_it_draws_a_small_medium_correction_symbol_with_a_two_module_quiet_zone(link):
    side, rows = png_pixels(qr.qr_png(link))
    # A QR symbol (version v is 17 + 4v modules a side), no larger than the one segno, another encoder, makes
    # at correction M: zxing-cpp may choose smaller, switching to alphanumeric mode for a long run of capitals.
    assert (side - 4 - 17) % 4 == 0
    assert side <= len(segno.make(link, error="m", micro=False).matrix) + 4
    light = bytes([qr.LIGHT]) * side
    assert rows[:2] == rows[-2:] == [light, light]
    assert all(row[:2] == row[-2:] == light[:2] for row in rows)
    assert set(b"".join(rows)) == {qr.DARK, qr.LIGHT}
    # The finder pattern's top row in the corner: seven dark modules, then a light one.
    assert rows[2][2:10] == bytes([qr.DARK] * 7 + [qr.LIGHT])


@pytest.mark.parametrize("link", LINKS)
def test_it_decodes_to_the_link_with_zbar(link, tmp_path):
    side, rows = png_pixels(qr.qr_png(link))
    # Ten pixels a module, as a scanner would see a print: a plain-text PGM zbarimg reads.
    scaled = [bytes(b for b in row for _ in range(10)) for row in rows for _ in range(10)]
    image = tmp_path / "code.pgm"
    image.write_bytes(f"P5 {side * 10} {side * 10} 255\n".encode() + b"".join(scaled))
    out = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", image], capture_output=True, text=True
    )
    assert out.stdout.splitlines() == [link]
