"""The QR code on a letter: a one-pixel-per-module PNG as a data: URI, printed unsmoothed so every edge is sharp.

The PNG is 8-bit grey (0 dark, 255 light). WeasyPrint embeds a grey PNG as it is, as a DeviceGray image: the
code prints in black ink alone, never as a four-colour black a press may register badly. A 1-bit PNG it turned
into RGB and encoded once more for every letter (2% of a batch's CPU).

The symbol is made by zxing-cpp (C++): segno, in Python, took ~1.9 ms a code, 7% of a letter's CPU; zxing-cpp
~0.35 ms, and its image is already one grey byte per module.
"""

from __future__ import annotations

import base64
import struct
import zlib

import zxingcpp

DARK, LIGHT = 0x00, 0xFF


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_grey(rows: list[bytes], size: int) -> bytes:
    """An 8-bit greyscale PNG of size x size pixels; each row is `size` bytes, 0 = black, 255 = white."""
    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def qr_modules(url: str) -> tuple[int, bytes]:
    """The QR code of `url` (error correction M, the smallest version that holds it) without a quiet zone:
    (modules per side, one byte per module row by row, 0 dark, 255 light)."""
    image = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(
        scale=1, add_quiet_zones=False
    )
    return image.shape[0], bytes(image)


def qr_png(url: str, *, border: int = 2) -> bytes:
    """The QR code of `url` (error correction M) with a quiet zone of `border` modules, as PNG bytes."""
    modules, pixels = qr_modules(url)
    size = modules + 2 * border
    quiet = bytes([LIGHT]) * size
    pad = quiet[:border]
    rows = [quiet] * border
    rows += [pad + pixels[i : i + modules] + pad for i in range(0, modules * modules, modules)]
    rows += [quiet] * border
    return png_grey(rows, size)


def qr_data_uri(url: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(url)).decode("ascii")
