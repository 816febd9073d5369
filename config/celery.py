import os
import sys

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("amends")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["incidents.watch"])  # the watch room's tasks (a sub-package of incidents)

# With `celery worker -B` (or a separate `celery beat`), work left behind by killed workers is picked up.
app.conf.beat_schedule = {
    "requeue-stale-imports": {"task": "incidents.tasks.requeue_stale_imports", "schedule": 120.0},
}
app.conf.beat_schedule["resume-stalled-campaigns"] = {
    "task": "apologies.tasks.resume_stalled_campaigns",
    "schedule": 60.0,
}
app.conf.beat_schedule["requeue-letter-batches"] = {
    "task": "apologies.tasks.requeue_letter_batches",
    "schedule": 120.0,
}

# Proves to /healthz that beat sends and a worker runs (config/health.py).
app.conf.beat_schedule["heartbeat"] = {
    "task": "config.health.heartbeat",
    "schedule": float(settings.HEARTBEAT_SECONDS),
}

# Raw uploads and raw send events past their retention age (apologies/privacy/retention.py).
app.conf.beat_schedule["privacy-retention"] = {"task": "apologies.privacy.tasks.retention", "schedule": 86400.0}

# The watch: minutes and usual volumes, live ledgers of draft incidents, lost batches and alerts, retention.
app.conf.beat_schedule["watch-flush-minutes"] = {
    "task": "incidents.watch.tasks.flush_minutes",
    "schedule": float(os.environ.get("WATCH_FLUSH_SECONDS", 60)),
}
app.conf.beat_schedule["watch-refresh-ledgers"] = {
    "task": "incidents.watch.tasks.refresh_ledgers",
    "schedule": float(os.environ.get("WATCH_LEDGER_SECONDS", 30)),
}
app.conf.beat_schedule["watch-recover"] = {
    "task": "incidents.watch.tasks.recover",
    "schedule": float(os.environ.get("WATCH_RECOVER_SECONDS", 30)),
}
app.conf.beat_schedule["watch-retention"] = {"task": "incidents.watch.tasks.retention", "schedule": 3600.0}

# Careful sending: pilot and waves, local hours (apologies.sending.waves).
app.conf.beat_schedule["advance-waves"] = {"task": "apologies.tasks.advance_waves", "schedule": 60.0}
# Letters left mid-handover to a print-and-mail provider (the idempotency key makes a retry safe).
app.conf.beat_schedule["requeue-provider-letters"] = {
    "task": "apologies.tasks.requeue_provider_letters",
    "schedule": 300.0,
}


def worker_command() -> list[str]:
    """A lean worker process, as the real-worker tests and the benchmarks start it."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--loglevel=WARNING",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
    ]
