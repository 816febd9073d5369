"""gunicorn settings shared by the Docker image, docker-compose and bench/landing.py."""

import multiprocessing
import os
from typing import Any

from config.gunicorn_balance import accept_slot_assign, accept_slot_release

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core and threads for I/O waits: on 2 cores, 5 processes x 4 threads starved each other
# (bench/landing.py: p99 of a static page went from 60 ms to 800 ms).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
# Threads let a worker serve other requests while one waits on PostgreSQL or Redis.
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# gthread, but a worker stops accepting while it holds 2 connections more than its least loaded sibling
# (config/gunicorn_balance.py). With plain gthread every worker accept()s from the shared socket and keeps what
# it took: 32 kept-alive connections opened at once went 32/0 or 31/1 to the first process to wake, and one
# core served them (bench/landing.py ratio 0.33-0.41 instead of ~0.95; docs/bench.md, 2026-11-30). The ways
# gunicorn offers were weighed:
# - `worker_connections` (gthread stops accepting past it) caps every worker for good: past workers x cap
#   kept-alive clients, new connections wait in the backlog while busy ones stay, and slow clients fill a
#   worker sooner. It only balances when the cap fits the number of clients.
# - `reuse_port` (one SO_REUSEPORT socket per worker) lets the kernel hash connections to workers: an idle
#   worker no longer takes a connection hashed to a busy one, and connections queued on a worker that stops
#   (restart, timeout) are reset unless net.ipv4.tcp_migrate_req is set (it was 0 here).
# Balancing keeps the shared socket (an idle worker still takes a short connection first) and costs a shared
# page and one look at it per poll. GUNICORN_BALANCE_ACCEPT=false gives back plain gthread.
balance_accept = os.environ.get("GUNICORN_BALANCE_ACCEPT", "true").lower() not in ("false", "0", "no", "off")
worker_class = "config.gunicorn_balance.BalancedThreadWorker" if balance_accept else "gthread"
# Large send-log uploads stream to disk before the import is queued.
timeout = 120
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG") else None


def pre_fork(server: Any, worker: Any) -> None:
    # The master numbers the workers' places in the shared counts; a replaced worker takes the free place.
    accept_slot_assign(worker=worker, siblings=server.WORKERS.values())


def child_exit(server: Any, worker: Any) -> None:
    accept_slot_release(worker=worker)
