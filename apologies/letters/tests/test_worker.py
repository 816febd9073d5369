"""Letter batches rendered by real Celery workers on Redis and PostgreSQL, in parallel, each batch once."""

from __future__ import annotations

import time

import pytest

from apologies.letters import layout
from apologies.letters import services as letter_batches
from apologies.models import Letter, LetterBatch
from apologies.tests.letters_factories import letter_campaign, pdf_page_count
from config.celery import app as celery_app
from conftest import start_worker, stop_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_workers(needs_postgres, needs_redis, settings):
    celery_app.conf.task_always_eager = False
    procs = [start_worker(settings), start_worker(settings)]
    yield procs
    celery_app.conf.task_always_eager = True
    for proc in procs:
        stop_worker(proc)


def test_it_renders_batches_in_parallel_on_two_workers_each_once(two_workers, marketer, approver):
    campaign = letter_campaign(marketer, approver, people={f"p{i:02d}@example.com": {} for i in range(8)})
    ls = layout.letter_settings(campaign)
    ls.return_address = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"
    ls.save()
    run = letter_batches.batches_create(campaign=campaign, user=approver, size=2)  # committed: the tasks go to Redis
    assert len(run.batches) == 4

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and letter_batches.batches_progress(campaign=campaign)["rendering"]:
        time.sleep(0.5)
    batches = list(LetterBatch.objects.filter(campaign=campaign).order_by("number"))
    assert [(b.status, b.rendered, b.pages) for b in batches] == [("ready", 2, 4)] * 4
    for batch in batches:
        with batch.pdf.open("rb") as f:
            assert pdf_page_count(f.read()) == 4
    assert sorted(Letter.objects.values_list("first_page", flat=True)) == [1, 1, 1, 1, 3, 3, 3, 3]
    # A task delivered twice (a worker restart, a requeue) finds the batch done and leaves it.
    assert letter_batches.batch_render(batch_id=batches[0].id) == "skipped"
