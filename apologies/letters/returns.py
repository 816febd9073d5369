"""Letters returned to sender: reading the mail house's returns file and marking each letter once."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from apologies.campaigns.audit import audit_add
from apologies.campaigns.models import Campaign
from apologies.letters.models import Letter, LetterBatch
from apologies.sending.models import Delivery


@dataclass
class ReturnsResult:
    marked: list[Letter] = field(default_factory=list)
    already: int = 0
    not_mailed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


CODE_RE = re.compile(r"^[A-Z0-9]{4}-?[A-Z0-9]{4}$")


def _returns_rows(text: str) -> list[tuple[int, str, str]]:
    """(line, value, note) per row: a header naming sequence or short_code (and reason), or one value a row."""
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        return []
    header = [h.strip().lower().replace(" ", "_") for h in rows[0]]
    value_col, note_col, first = 0, None, 0
    for names in (("sequence", "seq", "letter"), ("short_code", "code", "shortcode")):
        found = next((header.index(n) for n in names if n in header), None)
        if found is not None:
            value_col, first = found, 1
            break
    if first:
        note_col = next((header.index(n) for n in ("reason", "note", "return_reason") if n in header), None)
    out = []
    for n, row in enumerate(rows[first:], start=first + 1):
        value = row[value_col].strip().lstrip("'") if len(row) > value_col else ""
        note = row[note_col].strip().lstrip("'") if note_col is not None and len(row) > note_col else ""
        if value:
            out.append((n, value, note))
    return out


def returns_apply(*, campaign: Campaign, text: str, user) -> ReturnsResult:
    """Mark letters returned to sender from the mail house's file (sequence numbers or short codes)."""
    result = ReturnsResult()
    letters = {letter.sequence: letter for letter in Letter.objects.filter(campaign=campaign).select_related("batch")}
    by_code = {letter.short_code: letter for letter in letters.values()}
    now = timezone.now()
    with transaction.atomic():
        for line, value, note in _returns_rows(text):
            if value.isdigit():
                letter = letters.get(int(value))
            else:
                code = value.upper().replace(" ", "")
                code = f"{code[:4]}-{code[4:]}" if CODE_RE.match(code) and "-" not in code else code
                letter = by_code.get(code)
            if letter is None:
                result.unknown.append(f"line {line}: {value[:40]}")
            elif letter.returned_at is not None:
                result.already += 1
            elif letter.batch.status != LetterBatch.Status.MAILED:
                result.not_mailed.append(f"line {line}: #{letter.sequence} (batch {letter.batch.number})")
            else:
                letter.returned_at, letter.return_note = now, note[:200]
                letter.save(update_fields=["returned_at", "return_note"])
                error = "returned to sender" + (f": {note}" if note else "")
                Delivery.objects.filter(id=letter.delivery_id).update(status=Delivery.Status.FAILED, error=error[:500])
                result.marked.append(letter)
        if result.marked:
            audit_add(campaign, user, "letters returned", f"{len(result.marked)} returned to sender")
    return result
