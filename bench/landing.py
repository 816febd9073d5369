"""Landing benchmark: the personal landing page (GET) and the re-subscribe (POST) under gunicorn on
PostgreSQL, measured with wrk at 32 connections beside a bare Django view rendering a static template.

Every landing page is first visited once (8 at a time; its rate is printed as first visits/s), so the wrk run
measures the page as a mailing's readers meet it after the first one: from the cache, whatever the machine's
speed. Runs again and again on the same database and removes what it made.

    .venv/bin/python bench/landing.py [--seconds S] [--connections C] [--people N] [--workers W] [--threads T]
        [--reconnect]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {
    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/amends_bench"),
    "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/12"),
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "SECRET_KEY": "bench-only-" + "x" * 50,
    "ALLOWED_HOSTS": "127.0.0.1",
    "AMENDS_BENCH_VIEWS": "true",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)

LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
local method = "%(method)s"
local body = "%(body)s"
local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
local get_headers = {}
if %(reconnect)s then
  headers["Connection"] = "close"
  get_headers["Connection"] = "close"
end

setup = function(thread)
  thread:set("offset", math.random(#paths))
end

request = function()
  counter = counter + 1
  local path = paths[((counter + offset) %% #paths) + 1]
  if method == "POST" then
    return wrk.format("POST", path, headers, body)
  end
  return wrk.format("GET", path, get_headers)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%%d duration_us=%%d p50_us=%%d p99_us=%%d errors=%%d status_errors=%%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status, e.status))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_pids(master: int) -> list[int]:
    """gunicorn's worker processes: the children of its master (Linux /proc; empty elsewhere)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return sorted(int(pid) for pid in children)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connections_per_worker(port: int, pids: list[int]) -> list[int]:
    """Established connections each worker holds on the port, as `ss` shows their owners (needs iproute2)."""
    if not shutil.which("ss"):
        return []
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True
    ).stdout
    owners = [set(map(int, re.findall(r"pid=(\d+),", line))) for line in out.splitlines()]
    return [sum(pid in o for o in owners) for pid in pids]


def wrk(
    url: str,
    paths: list[str],
    *,
    method: str,
    seconds: int,
    connections: int,
    tmp: Path,
    master: int = 0,
    reconnect: bool = False,
) -> dict:
    paths_file = tmp / f"paths-{method}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = tmp / f"{method}.lua"
    body = "choice=resubscribe" if method == "POST" else ""
    lua = {"paths": paths_file, "method": method, "body": body, "reconnect": "true" if reconnect else "false"}
    script.write_text(LUA % lua)
    pids = worker_pids(master) if master else []
    cpu_before = [cpu_seconds(pid) for pid in pids]
    with subprocess.Popen(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        # Mid-phase, when wrk's connections are all open: which worker holds how many of them.
        time.sleep(seconds / 2)
        spread = connections_per_worker(int(url.rsplit(":", 1)[1]), pids) if pids else []
        out, _ = proc.communicate(timeout=seconds + 60)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, proc.args, out)
    cpu = [round(cpu_seconds(pid) - before, 1) for pid, before in zip(pids, cpu_before, strict=True)]
    m = re.search(r"RESULT (.*)", out)
    fields = dict(part.split("=") for part in m.group(1).split())
    n = int(fields["requests"])
    return {
        "rps": n / (int(fields["duration_us"]) / 1e6),
        "p50_ms": int(fields["p50_us"]) / 1000,
        "p99_ms": int(fields["p99_us"]) / 1000,
        "errors": int(fields["errors"]),
        "requests": n,
        "connections_per_worker": spread,
        "cpu_s_per_worker": cpu,
    }


def first_visits(url: str, paths: list[str]) -> float:
    """GET every page once, 8 at a time: a first visit is a query and a render, then the page is cached."""

    def get(path: str) -> None:
        with urllib.request.urlopen(url + path, timeout=30) as response:
            response.read()

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(get, paths))
    return len(paths) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--post-people", type=int, default=300, help="each is POSTed several times")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: config/gunicorn.py)")
    parser.add_argument("--threads", type=int, default=0, help="gunicorn threads (default: config/gunicorn.py)")
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="extra mode: every request on a new connection (Connection: close), as readers behind a proxy "
        "without upstream keep-alive arrive; the goals are measured without it",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/landing.py needs wrk: apt-get install wrk")

    from bench.ingest import ensure_database

    ensure_database(ENV["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from apologies import links
    from apologies.campaigns import planning
    from apologies.models import Consent
    from incidents.models import AffectedPerson, Contact, Incident, Suppression

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    Incident.objects.filter(title="bench landing").delete()
    start = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    incident = Incident.objects.create(
        title="bench landing",
        started_at=start,
        workflows=["wf"],
        what_happened="Our workflow looped.",
        fix="We're changing how we manage workflow updates.",
    )
    emails = [f"landing{i:05d}@example.com" for i in range(args.people)]
    AffectedPerson.objects.bulk_create(
        AffectedPerson(
            incident=incident,
            email=e,
            messages=25,
            first_at=start,
            last_at=start + timedelta(minutes=9),
            max_in_10_min=25,
            state="unsubscribed",
            tier=2,
        )
        for e in emails
    )
    Contact.objects.filter(email__in=emails).delete()
    Contact.objects.bulk_create(
        Contact(
            email=e,
            first_name="Zoë",
            last_name="Doe",
            address_line1="1 Main St",
            city="Springfield",
            region="IL",
            postal_code="62704",
            country="US",
            address_valid=True,
        )
        for e in emails
    )
    Suppression.objects.bulk_create(
        [Suppression(email=e, reason="unsubscribed", source="bench") for e in emails], ignore_conflicts=True
    )
    author, _ = User.objects.get_or_create(username="bench-marketer")
    campaign = planning.campaign_create(incident=incident, name="bench", author=author)
    recipients = list(campaign.recipients.order_by("email"))
    paths = [f"{ENV.get('AMENDS_SORRY_PATH', '/sorry/')}{links.sorry_token(r)}" for r in recipients]
    post_paths = paths[: args.post_people]
    get_paths = paths[args.post_people :]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.py", "--log-level", "warning"],
        cwd=ROOT,
        env={
            **os.environ,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            **({"WEB_CONCURRENCY": str(args.workers)} if args.workers else {}),
            **({"GUNICORN_THREADS": str(args.threads)} if args.threads else {}),
        },
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            common = {
                "seconds": args.seconds,
                "connections": args.connections,
                "tmp": tmp,
                "master": server.pid,
                "reconnect": args.reconnect,
            }
            wrk(url, ["/bench/bare/"], method="GET", seconds=3, connections=8, tmp=tmp)  # warm up
            first_per_s = first_visits(url, get_paths)
            bare = wrk(url, ["/bench/bare/"], method="GET", **common)
            landing = wrk(url, get_paths, method="GET", **common)
            post = wrk(url, post_paths, method="POST", **common)
    finally:
        server.terminate()
        server.wait(timeout=30)

    consents = Consent.objects.filter(campaign=campaign, choice="resubscribe").count()
    lost = len(post_paths) - consents if post["requests"] >= len(post_paths) else "n/a"
    duplicates = Consent.objects.filter(campaign=campaign).count() - consents
    for name, r in (("bare view", bare), ("landing GET", landing), ("re-subscribe POST", post)):
        print(
            f"{name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
            f"errors {r['errors']} ({r['requests']:,} requests, {args.connections} connections; "
            f"per worker: connections {'/'.join(map(str, r['connections_per_worker'])) or '?'}, "
            f"CPU s {'/'.join(map(str, r['cpu_s_per_worker'])) or '?'})"
        )
    print(
        f"re-signups: {len(post_paths)} people POSTed {post['requests']:,} times, {consents} recorded, "
        f"{duplicates} other consents"
    )
    print(f"first visits (query and render, 8 at a time): {first_per_s:,.0f}/s over {len(get_paths):,} pages")
    Incident.objects.filter(id=incident.id).delete()
    Contact.objects.filter(email__in=emails).delete()
    Suppression.objects.filter(email__in=emails, source="bench").delete()
    errors = bare["errors"] + landing["errors"] + post["errors"]
    # Requests per CPU-second of the workers, landing against bare: on a machine shared with other work the
    # wall-clock ratio also measures how much CPU the neighbours left each phase; this one does not.
    bare_cpu, landing_cpu = sum(bare["cpu_s_per_worker"]), sum(landing["cpu_s_per_worker"])
    cpu_ratio = (
        f"{(landing['requests'] / landing_cpu) / (bare['requests'] / bare_cpu):.2f}"
        if bare_cpu and landing_cpu
        else "?"
    )
    print(
        f"bench landing: landing_rps={landing['rps']:.0f} bare_rps={bare['rps']:.0f} "
        f"ratio={landing['rps'] / bare['rps']:.2f} cpu_ratio={cpu_ratio} p99_ms={landing['p99_ms']:.1f} "
        f"errors={errors} lost={lost} "
        f"duplicates={duplicates} first_visits_per_s={first_per_s:.0f} "
        f"bare_conns={'/'.join(map(str, bare['connections_per_worker'])) or '?'} "
        f"landing_conns={'/'.join(map(str, landing['connections_per_worker'])) or '?'} "
        f"reconnect={int(args.reconnect)} load1={os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
