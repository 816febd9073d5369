"""The QR code on a letter: a one-pixel-per-module PNG as a data: URI, printed unsmoothed so every edge is sharp."""

from __future__ import annotations

import base64
import struct
import zlib

import segno


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_1bit(rows: list[bytes], size: int) -> bytes:
    """A 1-bit greyscale PNG of size x size pixels; rows are packed bits, 1 = white."""
    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def qr_png(url: str, *, border: int = 2) -> bytes:
    # A fixed mask: choosing the "best" of eight is most of segno's time, and any mask scans from a print.
    code = segno.make(url, error="m", mask=0, micro=False)
    matrix = code.matrix
    n = len(matrix)
    size = n + 2 * border
    quiet = bytes((size + 7) // 8 * [0xFF])
    rows = [quiet] * border
    pad = "1" * border
    for line in matrix:
        bits = pad + "".join("0" if dark else "1" for dark in line) + pad
        bits += "1" * (-len(bits) % 8)
        rows.append(int(bits, 2).to_bytes(len(bits) // 8, "big"))
    rows += [quiet] * border
    return png_1bit(rows, size)


def qr_data_uri(url: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(url)).decode("ascii")
