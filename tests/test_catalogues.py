"""The gettext catalogues: every string a recipient may read is extracted, translated in every language and compiled.

CI fails here when a new {% translate %} or gettext() string was not extracted (`make makemessages`), when a
language lacks a translation or has a fuzzy one, when a translation breaks a placeholder or a tag, and when
the compiled .mo files are missing or older than their .po (`make compilemessages`, which `make test` runs).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
LANGUAGES = [code for code, _ in settings.LANGUAGES]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TAG = re.compile(r"</?\w+")


def catalogue(language: str, root: Path = ROOT) -> Path:
    return root / "locale" / language / "LC_MESSAGES" / "django.po"


def keys(po: polib.POFile) -> set[tuple[str | None, str, str]]:
    return {(e.msgctxt, e.msgid, e.msgid_plural) for e in po if not e.obsolete}


def makemessages_args() -> list[str]:
    """The Makefile's own arguments, so this test extracts exactly as `make makemessages` does."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    line = re.search(r"^MAKEMESSAGES_ARGS := (.*)$", text, re.MULTILINE).group(1)
    return shlex.split(line)


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_has_every_string_translated_in_every_language(language):
    po = polib.pofile(str(catalogue(language)))
    assert po.metadata.get("Plural-Forms"), "without Plural-Forms every plural is English-shaped"
    assert not po.metadata_is_fuzzy, "a fuzzy header is skipped by msgfmt, and its Plural-Forms with it"
    problems = []
    for entry in po:
        if entry.obsolete:
            continue
        name = entry.msgid[:60]
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {name}")
        forms = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if not forms or not all(form.strip() for form in forms):
            problems.append(f"untranslated: {name}")
            continue
        wanted = set(PLACEHOLDER.findall(entry.msgid + entry.msgid_plural))
        for form in forms:
            if set(PLACEHOLDER.findall(form)) != wanted:
                problems.append(f"placeholders differ: {name} -> {form[:60]}")
            if sorted(TAG.findall(form)) != sorted(TAG.findall(entry.msgid)):
                problems.append(f"tags differ: {name} -> {form[:60]}")
    assert problems == []


def test_it_has_extracted_every_string_the_code_uses(tmp_path):
    """makemessages, run on a copy of the code, finds exactly the strings the committed catalogues hold."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", "var", "node_modules", "__pycache__", "*.mo", "screenshots"),
    )
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", *(f"-l{code}" for code in LANGUAGES), *makemessages_args()],
        cwd=copy,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for language in LANGUAGES:
        committed = keys(polib.pofile(str(catalogue(language))))
        extracted = keys(polib.pofile(str(catalogue(language, copy))))
        missing = sorted(k[1][:60] for k in extracted - committed)
        stale = sorted(k[1][:60] for k in committed - extracted)
        assert (missing, stale) == ([], []), f"{language}: run `make makemessages` and translate what is new"


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_compiles_each_catalogue_and_the_compiled_one_is_current(language, tmp_path):
    po = catalogue(language)
    # msgfmt --check also refuses a translation whose python-format placeholders do not match.
    subprocess.run(["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(po)], check=True, capture_output=True)
    mo = po.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, "run `make compilemessages`"
