"""Marketer-written apologies with {{ placeholders }} from an allowlist, never template code.

Django's template language is not safe against untrusted authors, so apologies use a tiny syntax:
``{{ first_name }}`` or ``{{ first_name or "there" }}``. Anything else inside ``{{ }}`` or any
``{% %}`` is an error when the template is saved, never a blank in a sent email.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.safestring import SafeData

PLACEHOLDERS: dict[str, str] = {
    "first_name": "the person's first name",
    "last_name": "the person's last name",
    "emails_received": "how many emails of the incident they received, a bare number (25)",
    "emails_received_phrase": 'the number with the right word: "1 email", "25 emails"',
    "first_received_at": "when the first one arrived",
    "last_received_at": "when the last one arrived",
    "max_in_10_min": "the most they received in any ten minutes, a bare number",
    "max_in_10_min_phrase": 'the most in any ten minutes, with the word: "1 email", "4 emails"',
    "incident_title": "the incident's title",
    "incident_date": "the day the incident began",
    "what_happened": "what happened, from the incident",
    "the_fix": "the fix, from the incident",
    "sender_name": "who signs the apology",
    "brand_name": "the brand's name (the campaign's, else the site's)",
    "postal_address": "the brand's postal address: every email must show it (CAN-SPAM)",
    "unsubscribe_url": "the email's own one-click unsubscribe link: every email must show it",
    "invitation": "the invitation to sign up again, left out where it may not be sent",
    "resubscribe_url": "their personal link back (in the invitation only)",
    "short_code": "their code to type on the landing page (in the invitation only)",
}


# Only the invitation may carry these: it is left out for people who objected to marketing in a
# country whose rules forbid asking them back, so a body can never invite them by mistake.
INVITATION_ONLY = {"resubscribe_url", "short_code"}


# Every email must show these (US CAN-SPAM; Gmail and Yahoo bulk-sender rules): approval is refused without.
EMAIL_REQUIRED = ("unsubscribe_url", "postal_address")


def missing_required(text: str) -> list[str]:
    """The required email placeholders a body lacks, e.g. ["postal_address"]; [] for an invalid template."""
    try:
        names = {p.name for p in placeholders(text)}
    except TemplateError:
        return []
    return [name for name in EMAIL_REQUIRED if name not in names]


TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


INNER = re.compile(r'^\s*([a-z_][a-z0-9_]*)\s*(?:or\s+"([^"{}]*)"\s*)?$')


class TemplateError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    fallback: str


def placeholders(text: str) -> list[Placeholder]:
    """The placeholders a template uses, in order; raises TemplateError naming each problem."""
    problems = []
    found = []
    if "{%" in text or "%}" in text:
        problems.append("{% %} tags are not allowed: use {{ placeholder }} only")
    for m in TAG.finditer(text):
        inner = INNER.match(m.group(1))
        line = text.count("\n", 0, m.start()) + 1
        if not inner:
            problems.append(
                f'line {line}: {m.group(0)!r} is not a placeholder (write {{{{ name }}}} or {{{{ name or "text" }}}})'
            )
        elif inner.group(1) not in PLACEHOLDERS:
            problems.append(f"line {line}: unknown placeholder {inner.group(1)!r}")
        else:
            found.append(Placeholder(inner.group(1), inner.group(2) or ""))
    leftover = TAG.sub("", text)
    if "{{" in leftover or "}}" in leftover:
        problems.append("a {{ or }} is not closed")
    if problems:
        raise TemplateError("; ".join(problems))
    return found


def validate(text: str, *, invitation: bool = False) -> list[str]:
    """Problems with a template, each naming what and where; empty when it is fine."""
    try:
        found = placeholders(text)
    except TemplateError as e:
        return str(e).split("; ")
    names = {p.name for p in found}
    if invitation and "invitation" in names:
        return ["the invitation cannot contain {{ invitation }}"]
    if not invitation and names & INVITATION_ONLY:
        bad = ", ".join(sorted(names & INVITATION_ONLY))
        return [f"{bad} can only be used in the invitation, which is left out where it may not be sent"]
    return []


def _value(value: object, fallback: str, as_html: bool) -> str:
    # SafeString values (the invitation's own HTML) were escaped when they were built.
    if as_html and isinstance(value, SafeData):
        return str(value) or html.escape(fallback)
    text = str(value or "") or fallback
    return html.escape(text) if as_html else text


def render(text: str, values: Mapping[str, str], *, as_html: bool) -> str:
    """Fill the placeholders; values are escaped for HTML. The template must be valid."""
    placeholders(text)

    def fill(m: re.Match) -> str:
        inner = INNER.match(m.group(1))
        return _value(values.get(inner.group(1)), inner.group(2) or "", as_html)

    return TAG.sub(fill, text)


def to_merge_fields(text: str, field_format: str, *, as_html: bool, keys: dict[tuple[Placeholder, bool], str]) -> str:
    """The template with ESP merge fields (e.g. %recipient.h0%) where the placeholders were.

    `keys` collects one merge key per (placeholder, fallback, html or text), shared across the
    subject and both bodies, so the per-recipient values are computed once.
    """
    placeholders(text)

    def swap(m: re.Match) -> str:
        inner = INNER.match(m.group(1))
        ph = Placeholder(inner.group(1), inner.group(2) or "")
        key = keys.setdefault((ph, as_html), f"{'h' if as_html else 't'}{len(keys)}")
        return field_format.format(key)

    return TAG.sub(swap, text)


def merge_values(keys: dict[tuple[Placeholder, bool], str], values: Mapping[str, str]) -> dict[str, str]:
    """One recipient's values for the merge keys made by to_merge_fields."""
    out = {}
    for (ph, as_html), key in keys.items():
        out[key] = _value(values.get(ph.name), ph.fallback, as_html)
    return out
