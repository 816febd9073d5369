"""Stored upload files that hold personal data: finding and deleting raw imports that mention an address."""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Iterable

from django.core.files.storage import default_storage

from incidents.models import Import

CHUNK = 1 << 20


def file_mentions(name: str, needle: str) -> bool:
    """Does the stored file `name` contain `needle` (case-insensitive), read plain, gunzipped or unzipped?"""
    wanted = needle.lower().encode()
    with default_storage.open(name, "rb") as raw:
        head = raw.read(4)
        raw.seek(0)
        if head[:2] == b"\x1f\x8b":
            return _stream_mentions(gzip.GzipFile(fileobj=raw), wanted)
        if head == b"PK\x03\x04":
            with zipfile.ZipFile(raw) as archive:
                return any(_stream_mentions(archive.open(info), wanted) for info in archive.infolist())
        if _stream_mentions(raw, wanted):
            return True
    # UTF-16 exports spell every character with a zero byte beside it.
    with default_storage.open(name, "rb") as raw:
        return any(_stream_mentions(raw, needle.lower().encode(enc)) for enc in ("utf-16-le", "utf-16-be"))


def _stream_mentions(stream, wanted: bytes) -> bool:
    tail = b""
    while chunk := stream.read(CHUNK):
        window = tail + chunk.lower()
        if wanted in window:
            return True
        tail = window[-len(wanted) :]
    return False


def import_file_delete(imp: Import) -> bool:
    """Remove an import's raw upload from storage and clear the field; the import's figures stay."""
    if not imp.file:
        return False
    name = imp.file.name
    if default_storage.exists(name):
        default_storage.delete(name)
    Import.objects.filter(pk=imp.pk).update(file="")
    return True


def import_files_erase(*, email: str, incident_ids: Iterable[int]) -> int:
    """Delete every raw send log of the person's incidents, and any other raw upload that mentions them."""
    incidents = set(incident_ids)
    deleted = 0
    for imp in Import.objects.exclude(file="").only("id", "file", "incident_id").iterator():
        if not default_storage.exists(imp.file.name):
            continue
        if imp.incident_id in incidents or file_mentions(imp.file.name, email):
            deleted += import_file_delete(imp)
    return deleted
