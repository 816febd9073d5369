"""Printed letters end to end in real Chromium: gifts, budget, preview, rendering with progress, the ZIP, returns."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from apologies.campaigns import planning
from apologies.letters import services as letter_batches
from apologies.models import GiftPackage, LetterBatch
from apologies.tests.letters_factories import pdf_page_count, pdf_text

from .test_campaign_journey import incident_with_ledger, log_in, screenshot, user_with_password

# Unsubscribed with valid addresses: letters. 12 emails is tier 10-49 (a gift), 3 is tier 2-9 (none).
PEOPLE = {
    "chloe@example.com": (12, "<i>Chloé</i>", "unsubscribed", "US"),
    "dwayne@example.com": (12, "Dwayne", "unsubscribed", "US"),
    "juergen@example.com": (3, "Jürgen", "unsubscribed", "DE"),
}


@pytest.mark.browser
def test_it_takes_letters_from_gifts_to_the_mail_house(
    page: Page, request_hosts: set[str], page_problems: list[str], tmp_path: Path, settings, monkeypatch
) -> None:
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    maya = user_with_password("maya", "marketer")
    user_with_password("ana", "approver")
    incident = incident_with_ledger(tmp_path, PEOPLE)
    campaign = planning.campaign_create(incident=incident, name="Sorry for the loop", author=maya)
    # Batches are rendered by the test below, one at a time, so the progress bar can be watched.
    queued: list[int] = []
    monkeypatch.setattr(letter_batches, "_enqueue_render", queued.append)

    # The marketer adds a gift package to the catalogue.
    log_in(page, "maya")
    page.goto(campaign.get_absolute_url())
    page.get_by_role("link", name="Letters", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(r"^Letters 3"))).to_be_visible()
    page.get_by_role("link", name="Gift catalogue", exact=True).click()
    page.get_by_label("Name").fill("Rose box")
    page.get_by_label("SKU").fill("ROSE-01")
    page.get_by_label("Items").fill("chocolate rose\nsqueezable can")
    page.get_by_label("Unit cost").fill("8.00")
    page.get_by_label("Stock").fill("10")
    page.get_by_role("button", name="Add package").click()
    cells = page.locator("#packages tbody tr td")
    expect(cells).to_have_text(
        ["Rose box", "ROSE-01", "chocolate rose, squeezable can", "8.00", "10", "0", "10", "Edit"]
    )

    # Gifts by tier, the sender, and a budget too small: the page says by how much.
    page.goto(campaign.get_absolute_url())
    page.get_by_role("link", name="Letters", exact=True).click()
    page.get_by_label("Tier 10-49 messages").select_option(label="Rose box (ROSE-01)")
    page.get_by_role("button", name="Save gifts").click()
    expect(page.locator(".messages")).to_contain_text("Gift packages saved.")
    expect(page.locator("#letters-cost")).to_have_text("20.50")  # 3 x 1.50 + 2 x 8.00
    page.get_by_label("Return address").fill("Amends Inc.\n500 Market St\nSan Francisco, CA 94105")
    page.get_by_role("spinbutton", name="Budget").fill("15")
    page.get_by_role("button", name="Save letter settings").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"Over the budget by 5.50"))
    screenshot(page, tmp_path, "letters-over-budget")

    # The letter as it will print, before approval.
    chloe = campaign.recipients.get(email="chloe@example.com")
    page.goto(f"/campaigns/people/{chloe.id}/")
    page.get_by_role("button", name="Draw the letter").click()  # a worker draws it (eager in this suite)
    expect(page.get_by_role("img", name=re.compile("Page 1 of the letter"))).to_be_visible()
    link = page.get_by_role("link", name="Letter (PDF)")
    pdf = page.request.get(link.get_attribute("href"))
    assert pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.body())
    assert "<i>Chloé</i> Doe" in text and chloe.short_code in text

    # Submitted over budget: the approver is refused, with the amount.
    page.goto(campaign.get_absolute_url())
    page.get_by_role("button", name="Submit for approval").click()
    page.get_by_role("button", name="Log out").click()
    log_in(page, "ana")
    page.goto(campaign.get_absolute_url())
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator(".messages")).to_have_text(
        "Cannot approve: letters and gifts cost 20.50, 5.50 over the budget of 15.00."
    )
    expect(page.locator("#campaign-status")).to_have_text("Submitted for approval")

    # The marketer raises the budget (back to draft), submits again; approval holds two packages.
    page.get_by_role("button", name="Log out").click()
    log_in(page, "maya")
    page.goto(f"/campaigns/{campaign.id}/letters/")
    page.get_by_role("spinbutton", name="Budget").fill("25")
    page.get_by_role("button", name="Save letter settings").click()
    expect(page.locator("#over-budget")).to_have_count(0)
    page.goto(campaign.get_absolute_url())
    expect(page.locator("#campaign-status")).to_have_text("Draft")
    page.get_by_role("button", name="Submit for approval").click()
    page.get_by_role("button", name="Log out").click()
    log_in(page, "ana")
    page.goto(campaign.get_absolute_url())
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator(".messages")).to_have_text("Approved.")
    assert GiftPackage.objects.get().reserved == 2
    page.get_by_role("button", name="Start sending").click()
    expect(page.locator("#campaign-status")).to_have_text("Completed")
    expect(page.get_by_text("3 letters are still to be printed and mailed.")).to_be_visible()

    # Render in batches of two and watch the progress bar.
    page.get_by_role("link", name="Letters", exact=True).click()
    expect(page.locator("#letters-waiting")).to_have_text("3 letters waiting to be printed.")
    page.locator("#id_size").fill("2")
    page.get_by_role("button", name="Render letters").click()
    expect(page.locator(".messages")).to_contain_text("Rendering 3 letters in 2 batches.")
    box = page.locator(".progress-box")
    expect(box.locator('[data-field="rendered"]')).to_have_text("0")
    expect(box.locator('[data-field="letters"]')).to_have_text("3")
    expect(box.locator("progress")).to_have_attribute("value", "0")
    first, second = queued
    assert letter_batches.batch_render(batch_id=first) == "ready"
    expect(box.locator('[data-field="rendered"]')).to_have_text("2")  # the page polls
    expect(box.locator("progress")).to_have_attribute("value", "66")
    screenshot(page, tmp_path, "letters-rendering")
    assert letter_batches.batch_render(batch_id=second) == "ready"
    # Finished: the page reloads by itself and lists both batches.
    expect(page.locator(".progress-box")).to_have_count(0)
    rows = page.locator("#batches tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator("td:nth-child(2)")).to_have_text(["Ready", "Ready"])
    expect(rows.locator("td:nth-child(3)")).to_have_text(["2", "1"])

    # Download the first batch as a ZIP: the PDF's pages match its manifest.
    with page.expect_download() as download:
        rows.first.get_by_role("button", name="ZIP").click()
    archive = zipfile.ZipFile(download.value.path())
    stem = f"campaign-{campaign.id}-batch-001"
    assert download.value.suggested_filename == f"{stem}.zip"
    pdf = archive.read(f"{stem}.pdf")
    manifest = list(csv.DictReader(io.StringIO(archive.read(f"{stem}-manifest.csv").decode())))
    # Sorted by country: the German letter first; duplex, so every letter starts on a new sheet.
    assert [(m["sequence"], m["country"], m["first_page"], m["gift_sku"]) for m in manifest] == [
        ("1", "DE", "1", ""),
        ("2", "US", "3", "ROSE-01"),
    ]
    assert pdf_page_count(pdf) == 4
    page.reload()
    expect(rows.locator("td:nth-child(2)")).to_have_text(["Downloaded", "Ready"])

    # Mailed, then the mail house's returns file.
    rows.first.get_by_role("button", name="Mark mailed").click()
    expect(page.locator(".messages")).to_contain_text("Batch 1 marked mailed on")
    expect(rows.first.locator("td:nth-child(2)")).to_contain_text("Mailed")
    returns = tmp_path / "returns.csv"
    returns.write_text("sequence,reason\n2,Moved away\n")
    page.get_by_label("Returned to sender").set_input_files(returns)
    page.get_by_role("button", name="Mark returned").click()
    expect(page.locator(".messages")).to_contain_text("1 letter marked returned to sender.")
    expect(rows.first.locator("td:nth-child(6)")).to_have_text("1")
    screenshot(page, tmp_path, "letters-mailed")

    package = GiftPackage.objects.get()
    assert (package.stock, package.reserved) == (9, 1)  # one box left with batch 1; one still held for batch 2
    assert list(LetterBatch.objects.order_by("number").values_list("status", flat=True)) == ["mailed", "ready"]
    assert request_hosts == {"127.0.0.1"}
    assert page_problems == []
