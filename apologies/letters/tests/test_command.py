"""manage.py export_letters CAMPAIGN_ID OUTDIR."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from apologies.letters import layout
from apologies.models import LetterBatch
from apologies.tests.letters_factories import letter_campaign, pdf_page_count
from incidents.models import Contact

pytestmark = pytest.mark.django_db


def test_it_exports_every_batch_as_pdf_and_manifest(marketer, approver, tmp_path):
    campaign = letter_campaign(marketer, approver, people={f"p{i}@example.com": {} for i in range(3)})
    ls = layout.letter_settings(campaign)
    ls.return_address = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"
    ls.save()
    Contact.objects.filter(email="p2@example.com").update(address_valid=False, address_problems="city missing")
    out, err = io.StringIO(), io.StringIO()

    call_command("export_letters", str(campaign.id), str(tmp_path / "out"), "--batch-size", "1", stdout=out, stderr=err)

    stem = f"campaign-{campaign.id}-batch"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"{stem}-001-manifest.csv",
        f"{stem}-001.pdf",
        f"{stem}-002-manifest.csv",
        f"{stem}-002.pdf",
    ]
    assert out.getvalue().splitlines()[0] == f"batch 1: 1 letters, 2 pages, 1 sheets -> {tmp_path}/out/{stem}-001.pdf"
    assert "held out: p2@example.com: city missing" in err.getvalue()
    # The preflight's findings, named: the default site URL is printed on every letter.
    assert "preflight: check: The site URL is http://127.0.0.1:8000: letters would print" in err.getvalue()
    for n in (1, 2):
        [row] = csv.DictReader((tmp_path / "out" / f"{stem}-00{n}-manifest.csv").open(encoding="utf-8"))
        pdf = (tmp_path / "out" / f"{stem}-00{n}.pdf").read_bytes()
        assert (row["sequence"], row["first_page"], row["last_page"]) == (str(n), "1", "2")  # with its blank back
        assert pdf_page_count(pdf) == 2  # the letter and its blank back
    assert set(LetterBatch.objects.values_list("status", flat=True)) == {"downloaded"}

    # Run again: nothing new to batch, the same files are written.
    call_command("export_letters", str(campaign.id), str(tmp_path / "again"), stdout=io.StringIO(), stderr=err)
    assert len(list((tmp_path / "again").iterdir())) == 4 and LetterBatch.objects.count() == 2


def test_it_refuses_an_unknown_or_unstarted_campaign(marketer, approver, tmp_path):
    with pytest.raises(CommandError, match="No campaign 999"):
        call_command("export_letters", "999", str(tmp_path))
    campaign = letter_campaign(marketer, approver, people={"a@example.com": {}}, start=False)
    with pytest.raises(CommandError, match="once sending has started"):
        call_command("export_letters", str(campaign.id), str(tmp_path))
