"""Letter previews are drawn by a worker under a time limit; web requests only read what it drew."""

from __future__ import annotations

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.urls import reverse

from apologies.letters import layout, tasks
from apologies.letters import services_previews as previews
from apologies.models import LetterPreview
from apologies.tests.letters_factories import letter_campaign, pdf_text
from incidents.models import Contact

pytestmark = pytest.mark.django_db


def draw(client, recipient, capture):
    with capture(execute=True):
        response = client.post(reverse("apologies:letter_preview_draw", args=[recipient.id]))
    assert response.status_code == 302
    return response


def test_it_never_lays_a_letter_out_in_a_web_request(marketer_client, marketer, monkeypatch):
    campaign = letter_campaign(marketer, people={"zoe@example.com": {"first_name": "Zoë"}}, start=False)
    recipient = campaign.recipients.get()

    def refuse(**kwargs):
        raise AssertionError("a letter was laid out in a web request")

    monkeypatch.setattr(layout, "letter_preview", refuse)
    page = marketer_client.get(reverse("apologies:preview", args=[recipient.id]))
    assert page.status_code == 200
    assert "Draw the letter" in page.content.decode()
    pdf = marketer_client.get(reverse("apologies:letter_preview", args=[recipient.id]))
    assert pdf.status_code == 404
    assert "has not been drawn" in pdf.content.decode()
    assert marketer_client.get(reverse("apologies:letter_page", args=[recipient.id, 1])).status_code == 404
    assert not LetterPreview.objects.exists()  # a GET asks for nothing


def test_it_draws_the_letter_in_a_worker_and_shows_its_pages(
    marketer_client, marketer, django_capture_on_commit_callbacks
):
    campaign = letter_campaign(marketer, people={"zoe@example.com": {"first_name": "Zoë"}}, start=False)
    recipient = campaign.recipients.get()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        marketer_client.post(reverse("apologies:letter_preview_draw", args=[recipient.id]))
    assert len(queued) == 1  # enqueued once the request's transaction commits
    waiting = marketer_client.get(reverse("apologies:preview", args=[recipient.id])).content.decode()
    assert "waiting for a worker" in waiting
    assert 'data-reload-after="3"' in waiting

    queued[0]()  # the worker runs (eager in this suite)
    preview = LetterPreview.objects.get(recipient=recipient)
    assert preview.status == "ready" and preview.pages.count() >= 1
    page = marketer_client.get(reverse("apologies:preview", args=[recipient.id])).content.decode()
    assert reverse("apologies:letter_page", args=[recipient.id, 1]) in page
    pdf = marketer_client.get(reverse("apologies:letter_preview", args=[recipient.id]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == f'inline; filename="letter-{recipient.short_code}.pdf"'
    assert "Dear Zoë," in pdf_text(pdf.content)
    png = marketer_client.get(reverse("apologies:letter_page", args=[recipient.id, 1]))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert marketer_client.get(reverse("apologies:letter_page", args=[recipient.id, 99])).status_code == 404


def test_it_hides_a_drawing_once_the_letter_changes(marketer_client, marketer, django_capture_on_commit_callbacks):
    campaign = letter_campaign(marketer, people={"zoe@example.com": {"first_name": "Zoë"}}, start=False)
    recipient = campaign.recipients.get()
    draw(marketer_client, recipient, django_capture_on_commit_callbacks)
    assert marketer_client.get(reverse("apologies:letter_preview", args=[recipient.id])).status_code == 200

    # A bulk update bypasses `updated`: the version reads the address itself.
    Contact.objects.filter(email="zoe@example.com").update(city="Springfield")
    assert marketer_client.get(reverse("apologies:letter_preview", args=[recipient.id])).status_code == 404
    draw(marketer_client, recipient, django_capture_on_commit_callbacks)
    text = pdf_text(marketer_client.get(reverse("apologies:letter_preview", args=[recipient.id])).content)
    assert "SPRINGFIELD" in text.upper()

    campaign.templates.update(letter_body="<p>New words nobody drew yet.</p>")
    assert marketer_client.get(reverse("apologies:letter_preview", args=[recipient.id])).status_code == 404
    draw(marketer_client, recipient, django_capture_on_commit_callbacks)
    assert "New words nobody drew yet." in pdf_text(
        marketer_client.get(reverse("apologies:letter_preview", args=[recipient.id])).content
    )
    assert LetterPreview.objects.count() == 1


def test_it_fails_a_drawing_that_runs_out_of_time_with_the_reason(
    marketer_client, marketer, django_capture_on_commit_callbacks, monkeypatch
):
    assert (tasks.render_letter_preview.soft_time_limit, tasks.render_letter_preview.time_limit) == (60, 75)
    campaign = letter_campaign(marketer, people={"zoe@example.com": {}}, start=False)
    recipient = campaign.recipients.get()

    def endless(**kwargs):
        raise SoftTimeLimitExceeded()  # what Celery raises in the task when the soft limit passes

    monkeypatch.setattr(layout, "letter_preview", endless)
    draw(marketer_client, recipient, django_capture_on_commit_callbacks)
    preview = LetterPreview.objects.get()
    assert preview.status == "failed"
    assert preview.error == "Drawing the letter took longer than 60 seconds."
    page = marketer_client.get(reverse("apologies:preview", args=[recipient.id])).content.decode()
    assert "took longer than 60 seconds" in page and "Draw it again" in page

    monkeypatch.undo()
    draw(marketer_client, recipient, django_capture_on_commit_callbacks)
    assert LetterPreview.objects.get().status == "ready"


def test_it_shows_a_drawing_whose_worker_died_as_failed(marketer, django_capture_on_commit_callbacks):
    campaign = letter_campaign(marketer, people={"zoe@example.com": {}}, start=False)
    recipient = campaign.recipients.get()
    with django_capture_on_commit_callbacks(execute=False):
        preview = previews.letter_preview_request(recipient=recipient, user=marketer)
    LetterPreview.objects.filter(id=preview.id).update(
        status="rendering", started_at=preview.requested_at - previews.STALE_AFTER
    )
    assert previews.preview_state(previews.preview_current(recipient=recipient)) == "failed"
    # The message is delivered again after the worker's death: it finds nothing queued and does nothing.
    assert previews.letter_preview_render(preview_id=preview.id) == "not queued"
    with django_capture_on_commit_callbacks(execute=True):
        previews.letter_preview_request(recipient=recipient, user=marketer)
    assert LetterPreview.objects.get().status == "ready"


def test_it_refuses_to_draw_for_someone_without_a_letter(marketer_client, marketer):
    campaign = letter_campaign(marketer, people={"zoe@example.com": {"contact": False}}, start=False)
    recipient = campaign.recipients.get()
    response = marketer_client.post(reverse("apologies:letter_preview_draw", args=[recipient.id]), follow=True)
    assert "nothing to draw" in response.content.decode() or "no postal address" in response.content.decode()
    assert not LetterPreview.objects.exists()
