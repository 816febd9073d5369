"""Accept balancing of the gthread workers: who may accept, places in the shared counts, and real gunicorn."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from config import gunicorn_balance
from config.gunicorn_balance import AcceptBoard, BalancedThreadWorker

ROOT = Path(__file__).resolve().parents[2]

PID_APP = """
import os


def app(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def test_it_reports_the_least_loaded_live_sibling():
    board = AcceptBoard(slots=4)
    for slot, connections in ((0, 5), (1, 2), (2, 3)):
        board.take(slot)
        board.publish(slot, connections)
    assert board.least_other(0) == 2
    assert board.least_other(1) == 3
    board.clear(1)  # an exited worker
    assert board.least_other(0) == 3
    board.stamps[2] = time.monotonic() - gunicorn_balance.STALE_SECONDS - 1  # a stuck worker
    assert board.least_other(0) is None


def test_it_lets_a_worker_accept_only_while_it_is_not_ahead(monkeypatch):
    board = AcceptBoard(slots=4)
    monkeypatch.setattr(gunicorn_balance, "BOARD", board)
    worker = BalancedThreadWorker.__new__(BalancedThreadWorker)
    worker.alive = True
    worker.worker_connections = 1000  # gunicorn's setting, as ThreadWorker.__init__ sets it
    worker.accept_slot = 0
    board.take(0)
    board.take(1)
    assert worker.worker_connections == 1000  # the sibling has not published yet: no limit
    board.publish(1, 7)
    assert worker.worker_connections == 7 + gunicorn_balance.LEAD
    worker.alive = False  # stopping: gunicorn's own limit again
    assert worker.worker_connections == 1000


def test_it_gives_a_new_worker_the_lowest_free_slot(monkeypatch):
    board = AcceptBoard(slots=4)
    monkeypatch.setattr(gunicorn_balance, "BOARD", board)
    siblings = [SimpleNamespace(accept_slot=0), SimpleNamespace(accept_slot=2)]
    board.take(0)
    board.take(2)
    worker = SimpleNamespace()
    gunicorn_balance.accept_slot_assign(worker=worker, siblings=siblings)
    assert worker.accept_slot == 1
    assert board.used[0] == 3
    board.publish(1, 4)
    gunicorn_balance.accept_slot_release(worker=worker)
    assert board.stamps[1] == 0.0


@pytest.mark.skipif(sys.platform != "linux", reason="gunicorn workers and /proc-free sockets: Linux only")
def test_it_spreads_connections_opened_at_once_over_both_workers(tmp_path):
    # Plain gthread (GUNICORN_BALANCE_ACCEPT=false) put these 24 connections 24/0, 22/2 and 22/2.
    (tmp_path / "pidapp.py").write_text(PID_APP)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "pidapp:app", "-c", "config/gunicorn.py", "--pythonpath", str(tmp_path)],
        cwd=ROOT,
        env={
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "2",
            "PATH": "",
            "GUNICORN_BALANCE_ACCEPT": "true",
        },
    )
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 20
        pids: set[str] = set()
        while len(pids) < 2 and time.monotonic() < deadline:  # both workers booted and serving
            try:
                pids.add(ask_pid(socket.create_connection(("127.0.0.1", port), timeout=2), close=True))
            except OSError:
                time.sleep(0.1)
        assert len(pids) == 2
        # Like a load tester or a proxy's pool: 24 connections opened at once and kept alive.
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(24)]
        served = Counter(ask_pid(client) for client in clients)
    finally:
        for client in clients:
            client.close()
        server.terminate()
        server.wait(timeout=30)
    assert len(served) == 2
    assert min(served.values()) >= 12 - gunicorn_balance.LEAD - 2, served


def ask_pid(client: socket.socket, *, close: bool = False) -> str:
    client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
        chunk = client.recv(4096)
        if not chunk:
            break
        data += chunk
    if close:
        client.close()
    return data.split(b"\r\n\r\n", 1)[1].decode()
