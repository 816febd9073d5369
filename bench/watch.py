"""Watch benchmark: a day of mixed sending (steady workflows plus one loop that starts at a random minute)
replayed as SendGrid Event Webhook POSTs through the real /watch/sendgrid/ endpoint under gunicorn, counted
by real Celery workers on Redis and PostgreSQL, with the alert webhook received here.

    /work/main/.venv/bin/python bench/watch.py [--messages N] [--loop-people N] [--batch N] [--clients N]

Prints events/s posted and counted, the delay from the first offending event to the alert, the alert count,
false alerts on the steady workflows and events lost; the last line is JSON.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PORT = int(os.environ.get("BENCH_PORT", "8765"))
HOOK_PORT = PORT + 1
SECRET = "bench:watch-secret"
ENV = {
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/amends_watch_bench"),
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/13",
    "WATCH_REDIS_URL": "redis://127.0.0.1:6379/12",
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECRET_KEY": "bench-only-" + "x" * 50,
    "ANYMAIL_WEBHOOK_SECRET": SECRET,
    "WATCH_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{HOOK_PORT}/hook",
    "WATCH_ALERT_EMAILS": "oncall@example.com",
    "WATCH_FLUSH_SECONDS": "5",
    "WATCH_LEDGER_SECONDS": "5",
    "WATCH_RECOVER_SECONDS": "10",
    "CONN_MAX_AGE": "600",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)
LOOP = "trial-nurture"


def day_of_sending(messages: int, loop_people: int, loop_rounds: int, seed: int) -> tuple[list[dict], dict]:
    """Steady workflows over a day (a mild day/night curve), and one workflow that starts looping at a random minute."""
    from incidents.watch.fixtures import sendgrid_message

    rng = random.Random(seed)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    t0 = int(day.timestamp())
    steady = {
        name if name == LOOP else f"wf-{name}": share
        for name, share in [
            ("welcome", 8),
            ("newsletter", 20),
            ("receipts", 15),
            ("password-reset", 3),
            ("cart-abandon", 10),
            ("weekly-digest", 12),
            ("onboarding-2", 6),
            ("winback", 5),
            ("shipping", 9),
            ("review-ask", 5),
            ("renewal", 4),
            (LOOP, 3),
        ]
    }
    names, weights = list(steady), list(steady.values())
    # Hourly shape: a night low at about half the day's level.
    shape = [0.55 + 0.45 * max(0.0, 1 - abs(h - 14) / 10) for h in range(24)]
    total_shape = sum(shape)
    events: list[dict] = []
    n = 0
    for hour in range(24):
        for _ in range(int(messages * shape[hour] / total_shape)):
            n += 1
            ts = t0 + hour * 3600 + rng.randrange(3600)
            kinds = ("processed", "delivered", "open") if rng.random() < 0.15 else ("processed", "delivered")
            if rng.random() < 0.00005:
                kinds = ("processed", "delivered", "spamreport")
            events += sendgrid_message(
                email=f"person{rng.randrange(400_000)}@example.com",
                ts=ts,
                workflow=rng.choices(names, weights)[0],
                events=kinds,
                n=n,
            )
    # The loop: the same people again every minute, from a random minute between 07:00 and 21:00.
    start = t0 + rng.randrange(7 * 60, 21 * 60) * 60
    for r in range(loop_rounds):
        for p in range(loop_people):
            n += 1
            events += sendgrid_message(
                email=f"trial{p}@example.com", ts=start + r * 60 + p * 60 // loop_people, workflow=LOOP, n=n
            )
    events.sort(key=lambda e: e["timestamp"])
    # The 6th message to one person within 10 minutes breaks the person rule.
    trigger_ts = start + 5 * 60
    # What each workflow sent per hour the day before (the watch has been running): its usual hours.
    usual = {w: [messages * shape[h] / total_shape * steady[w] / sum(weights) for h in range(24)] for w in names}
    return events, {"loop_start": start, "trigger_ts": trigger_ts, "day": t0, "usual": usual}


def yesterday_seed(facts: dict) -> None:
    """The day before as the watch's minutes would hold it, and the usual hours learnt from it."""
    from incidents.watch import services
    from incidents.watch.models import WorkflowMinute

    rows = []
    for workflow, hours in facts["usual"].items():
        for h, per_hour in enumerate(hours):
            for m in range(60):
                minute = datetime.fromtimestamp(facts["day"] - 86400 + h * 3600 + m * 60, UTC)
                rows.append(
                    WorkflowMinute(
                        esp="sendgrid",
                        workflow=workflow,
                        minute=minute,
                        messages=round(per_hour / 60),
                        events=round(per_hour / 30),
                    )
                )
    WorkflowMinute.objects.bulk_create(rows, batch_size=5000)
    learnt = services.baselines_learn(esp="sendgrid", workflows=set(facts["usual"]))
    print(f"usual hours learnt from the day before for {len(learnt)} workflows")


class Hook(http.server.BaseHTTPRequestHandler):
    received: list[tuple[float, dict]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.received.append((time.time(), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        return None


def start(cmd: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), start_new_session=True, **kw)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


CMP_TABLE = """
    DROP TABLE IF EXISTS bench_watch_windows;
    CREATE TABLE bench_watch_windows (workflow varchar(255), recipient varchar(254), message varchar(255),
        occurred_at timestamptz, UNIQUE (workflow, recipient, message));
    CREATE INDEX ON bench_watch_windows (workflow, recipient, occurred_at);
"""
CMP_INSERT = """
    INSERT INTO bench_watch_windows SELECT u->>0, u->>1, u->>2, to_timestamp((u->>3)::float)
    FROM jsonb_array_elements(%s::jsonb) u ON CONFLICT DO NOTHING
"""
CMP_COUNT = """
    SELECT (SELECT count(*) FROM bench_watch_windows w WHERE w.workflow = u->>0 AND w.recipient = u->>1
              AND w.occurred_at BETWEEN to_timestamp((u->>3)::float - 599.999) AND to_timestamp((u->>3)::float)),
           (SELECT count(*) FROM bench_watch_windows w WHERE w.workflow = u->>0 AND w.recipient = u->>1
              AND w.occurred_at BETWEEN to_timestamp((u->>3)::float) AND to_timestamp((u->>3)::float + 599.999))
    FROM jsonb_array_elements(%s::jsonb) u
"""


def most_per_person(sent: list, most: list[int]) -> dict:
    found: dict = {}
    for s, m in zip(sent, most, strict=True):
        found[(s.workflow, s.person)] = max(m, found.get((s.workflow, s.person), 0))
    return found


def compare_windows(n: int, batch: int) -> dict:
    """The person window both ways, on the same messages: Redis sorted sets (Lua, one call a batch) against
    PostgreSQL (an indexed table, one insert and one counting query a batch). Same answers, timed."""
    import django

    django.setup()
    from django.db import connection

    from incidents.watch import windows

    rng = random.Random(7)
    sent = []
    for i in range(n):
        if i % 5 == 0:  # a fifth of the traffic is a loop over 1,000 people
            sent.append(windows.Sent("loop", f"t{i % 1000}@example.com", f"m{i}", 1_700_000_000 + i / 50))
        else:
            sent.append(
                windows.Sent(f"wf{i % 11}", f"p{rng.randrange(400_000)}@example.com", f"m{i}", 1_700_000_000 + i / 50)
            )
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], check=True, capture_output=True)
    chunks = [sent[i : i + batch] for i in range(0, n, batch)]
    t = time.time()
    redis_most = []
    for chunk in chunks:
        redis_most += [most for _, most, _ in windows.persons_count(esp="cmp", sent=chunk, window=600)]
    redis_s = time.time() - t
    with connection.cursor() as cursor:
        cursor.execute(CMP_TABLE)
        t = time.time()
        pg_most = []
        for chunk in chunks:
            rows = orjson.dumps([[s.workflow, s.person, s.message, s.ts] for s in chunk]).decode()
            cursor.execute(CMP_INSERT, [rows])
            cursor.execute(CMP_COUNT, [rows])
            pg_most += [max(a, b) for a, b in cursor.fetchall()]
        pg_s = time.time() - t
        cursor.execute("DROP TABLE bench_watch_windows")
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], check=True, capture_output=True)
    return {
        "window_events": n,
        "redis_events_per_s": round(n / redis_s),
        "postgres_events_per_s": round(n / pg_s),
        # Per person the most in any 10 minutes (within a batch PostgreSQL also sees the batch's later messages).
        "same_counts": most_per_person(sent, redis_most) == most_per_person(sent, pg_most),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=150_000, help="steady messages over the day")
    parser.add_argument("--loop-people", type=int, default=1000)
    parser.add_argument("--loop-rounds", type=int, default=30, help="minutes the loop lasts (a message each)")
    parser.add_argument("--batch", type=int, default=500, help="events per POST (SendGrid posts batches)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=0, help="events/s to post at (0: as fast as it takes them)")
    parser.add_argument("--web", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument(
        "--compare-windows",
        type=int,
        default=0,
        metavar="N",
        help="only time the person window on N messages, Redis against PostgreSQL",
    )
    args = parser.parse_args()
    if args.compare_windows:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", "CREATE DATABASE amends_watch_bench"],
            capture_output=True,
        )
        result = compare_windows(args.compare_windows, args.batch)
        print(
            f"person window on {result['window_events']:,} messages: Redis {result['redis_events_per_s']:,}/s, "
            f"PostgreSQL {result['postgres_events_per_s']:,}/s, same counts: {result['same_counts']}"
        )
        print(json.dumps(result))
        return

    import django

    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", "DROP DATABASE IF EXISTS amends_watch_bench"], check=True
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", "CREATE DATABASE amends_watch_bench"], check=True
    )
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], check=True, capture_output=True)
    subprocess.run(["redis-cli", "-n", "13", "flushdb"], check=True, capture_output=True)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from incidents.models import AffectedPerson, Incident
    from incidents.watch import services
    from incidents.watch.models import WatchAlert, WatchBatch, WatchedEvent

    services.esp_switch(esp="sendgrid", enabled=True)

    t = time.time()
    events, facts = day_of_sending(args.messages, args.loop_people, args.loop_rounds, args.seed)
    bodies, trigger_post, first_loop_post = [], None, None
    for i in range(0, len(events), args.batch):
        chunk = events[i : i + args.batch]
        if first_loop_post is None and any(
            e["category"] == [LOOP] and e["timestamp"] >= facts["loop_start"] for e in chunk
        ):
            first_loop_post = len(bodies)
        if trigger_post is None and chunk[-1]["timestamp"] >= facts["trigger_ts"]:
            trigger_post = len(bodies)
        bodies.append(orjson.dumps(chunk))
    print(
        f"generated {len(events):,} events in {len(bodies):,} POSTs ({time.time() - t:.1f} s); "
        f"loop starts {datetime.fromtimestamp(facts['loop_start'], UTC):%H:%M} (seed {args.seed})",
        flush=True,
    )

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", HOOK_PORT), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    procs = [
        start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-c",
                "config/gunicorn.py",
                "-b",
                f"127.0.0.1:{PORT}",
                "-w",
                str(args.web),
                "--threads",
                "4",
            ]
        ),
        start(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=WARNING",
                "-s",
                "/tmp/amends-watch-bench-beat",
            ]
        ),
    ]
    from config.celery import worker_command

    procs += [start(worker_command()) for _ in range(args.workers)]
    posted = [0.0] * len(bodies)
    statuses: dict[int, int] = {}
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
                c.request("HEAD", "/watch/sendgrid/")
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(2)  # the workers' start-up
        auth = {
            "Authorization": "Basic " + __import__("base64").b64encode(SECRET.encode()).decode(),
            "Content-Type": "application/json",
        }
        nxt = iter(range(len(bodies)))
        lock = threading.Lock()

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
            while True:
                with lock:
                    i = next(nxt, None)
                if i is None:
                    return
                if args.rate:
                    due = began + i * args.batch / args.rate
                    if due > time.time():
                        time.sleep(due - time.time())
                conn.request("POST", "/watch/sendgrid/", body=bodies[i], headers=auth)
                response = conn.getresponse()
                response.read()
                posted[i] = time.time()
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        backlog: list[int] = []
        done = threading.Event()

        def monitor():
            from django.db import connection

            while not done.is_set():
                backlog.append(WatchBatch.objects.exclude(state="done").count())
                done.wait(1.0)
            connection.close()

        began = time.time()
        threading.Thread(target=monitor, daemon=True).start()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        ingest_s = time.time() - began
        print(
            f"posted {len(events):,} events in {ingest_s:.1f} s: {len(events) / ingest_s:,.0f} events/s "
            f"(HTTP {statuses})",
            flush=True,
        )
        deadline = time.time() + 600
        while WatchBatch.objects.exclude(state="done").exists() and time.time() < deadline:
            time.sleep(0.5)
        counted_s = time.time() - began
        done.set()
        time.sleep(12)  # a ledger refresh and a flush after the last batch
        alerts = list(WatchAlert.objects.all())
        loop_alerts = [a for a in alerts if a.workflow == LOOP]
        false_alerts = [a for a in alerts if a.workflow != LOOP]
        hooks = [(at, body) for at, body in Hook.received]
        loop_hooks = [at for at, body in hooks if f"'{LOOP}'" in body["text"]]
        delay = loop_hooks[0] - posted[trigger_post] if loop_hooks and trigger_post is not None else None
        delay_first = loop_hooks[0] - posted[first_loop_post] if loop_hooks and first_loop_post is not None else None
        stored = WatchedEvent.objects.count()
        lost = len(events) - stored
        incident = Incident.objects.filter(id=loop_alerts[0].incident_id).first() if loop_alerts else None
        people = AffectedPerson.objects.filter(incident=incident).count() if incident else 0
        window_ok = bool(incident) and incident.started_at == datetime.fromtimestamp(facts["loop_start"], UTC)
    finally:
        stop(procs)
        hook.shutdown()
    result = {
        "events": len(events),
        "posts": len(bodies),
        "ingest_events_per_s": round(len(events) / ingest_s),
        "counted_events_per_s": round(len(events) / counted_s),
        "alert_delay_s_from_breaking_event": None if delay is None else round(delay, 2),
        "alert_delay_s_from_first_loop_event": None if delay_first is None else round(delay_first, 2),
        "alerts_loop": len(loop_alerts),
        "alert_posts": len(hooks),
        "false_alerts": len(false_alerts),
        "events_lost": lost,
        "max_backlog_events": max(backlog, default=0) * args.batch,
        "rate_asked": args.rate,
        "incident_window_at_first_loop_event": window_ok,
        "incident_people": people,
        "loop_people": args.loop_people,
        "rules": sorted({r for a in loop_alerts for r in a.rules}),
        "web": args.web,
        "workers": args.workers,
        "cores": os.cpu_count(),
    }
    print(
        f"events/s posted {result['ingest_events_per_s']:,}, counted end to end {result['counted_events_per_s']:,}; "
        f"most events waiting to be counted: {result['max_backlog_events']:,}"
    )
    print(
        f"alert {result['alert_delay_s_from_first_loop_event']} s after the POST with the first offending event "
        f"(the loop's first; {result['alert_delay_s_from_breaking_event']} s after the person rule's 6th message), "
        f"{result['alerts_loop']} alert(s) for the loop ({result['alert_posts']} webhook posts), "
        f"{result['false_alerts']} false alert(s) {[a.workflow for a in false_alerts]}, {lost} events lost"
    )
    print(
        f"draft incident: window opened at the loop's first event: {window_ok} "
        f"({incident.started_at if incident else None} for {datetime.fromtimestamp(facts['loop_start'], UTC)}); "
        f"ledger people {people} (the loop's {args.loop_people} and the workflow's other recipients since)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
