"""gunicorn settings shared by the Docker image, docker-compose and bench/landing.py."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core and threads for I/O waits: on 2 cores, 5 processes x 4 threads starved each other
# (bench/landing.py: p99 of a static page went from 60 ms to 800 ms).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
# Threads let a worker serve other requests while one waits on PostgreSQL or Redis.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# Large send-log uploads stream to disk before the import is queued.
timeout = 120
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG") else None
