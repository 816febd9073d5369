"""Staff-wide behaviour: branded error pages with one log line, and create forms that cannot run twice."""

import logging

import pytest
from django.urls import reverse

from incidents.models import Incident

pytestmark = pytest.mark.django_db


def test_it_answers_a_viewers_403_with_a_branded_page_and_one_line(client, viewer, caplog):
    client.force_login(viewer)
    logger = logging.getLogger("django.request")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    for f in logging.getLogger("django.request").filters:
        handler.addFilter(f)
    logger.addHandler(handler)
    try:
        response = client.get(reverse("incidents:create"))
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot do this" in html and 'href="/"' in html and "<nav>" in html
    assert len(records) == 1 and records[0].exc_info is None
    assert "Forbidden" in records[0].getMessage()


def test_it_answers_404_with_a_branded_page(client, viewer):
    client.force_login(viewer)
    response = client.get("/campaigns/999999/")
    assert response.status_code == 404
    assert "There is nothing here" in response.content.decode()


def test_it_keeps_a_500_traceback_but_not_a_4xx_one():
    from config.errors import OneLine4xx

    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "Forbidden", (), (ValueError, None, None))
    record.status_code = 403
    OneLine4xx().filter(record)
    assert record.exc_info is None
    record = logging.LogRecord("django.request", logging.ERROR, "", 0, "Boom", (), (ValueError, None, None))
    record.status_code = 500
    OneLine4xx().filter(record)
    assert record.exc_info is not None


def test_it_creates_once_when_a_create_form_is_sent_again(client, marketer):
    client.force_login(marketer)
    html = client.get(reverse("incidents:create")).content.decode()
    token = html.split('name="_once" value="', 1)[1][:32]
    form = {"title": "Loop", "started_at": "2026-11-20 14:00", "status": "open", "tier_text": "1, 2, 10, 50"}
    first = client.post(reverse("incidents:create"), {**form, "_once": token})
    second = client.post(reverse("incidents:create"), {**form, "_once": token}, follow=True)  # Back, then submit
    assert Incident.objects.count() == 1
    assert second.redirect_chain[0][0] == first["Location"]
    assert "already sent" in second.content.decode()
    client.post(reverse("incidents:create"), {**form, "_once": "b" * 32})
    assert Incident.objects.count() == 2  # a fresh form is a fresh create


def test_it_serves_a_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
