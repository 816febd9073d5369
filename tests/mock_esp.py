"""A local stand-in for Mailgun's messages API, for tests and benchmarks.

The real anymail Mailgun backend posts to it over HTTP on 127.0.0.1, so the whole
path (payload building, HTTP, response parsing, error handling) is exercised without
touching the network. It behaves like Mailgun for what Amends uses:

* ``POST /v3/<domain>/messages`` with basic auth user ``api``; anymail sends the form
  url-encoded, or as multipart/form-data when there are attachments. Both are accepted.
* Batch sending: with ``recipient-variables`` every ``to`` address gets its own message,
  with ``%recipient.KEY%`` replaced in subject, bodies, headers and ``v:`` custom data.
  Without it Mailgun sends one message that shows every address; that case is recorded
  per address too, flagged ``all_recipients_visible`` so tests can insist it never happens.
* At most 1,000 ``to`` addresses per call, like Mailgun.

Failures can be injected (``fail_first``, ``fail_rate``) to exercise retries.

Run ``python -m tests.mock_esp --port 8025`` for manual trials.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import random
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

MAX_RECIPIENTS = 1000
PLACEHOLDER = re.compile(r"%recipient\.([^%\s]+)%")
# "addr" or "Name <addr>", which is how anymail writes each "to"; anything else goes to getaddresses.
SIMPLE_ADDRESS = re.compile(r'([^\s"<>,@]+@[^\s"<>,@]+)|[^"<>,]*<([^\s"<>,@]+@[^\s"<>,@]+)>')

Form = dict[str, list[str]]


@dataclass
class Received:
    """One message as a recipient would get it.

    ``variables`` is this recipient's raw recipient-variables entry (JSON types kept);
    ``custom_data`` holds the ``v:`` fields after substitution, so its values are strings,
    as Mailgun reports them to webhooks.
    """

    recipient: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    variables: dict
    custom_data: dict
    message_id: str
    request_no: int
    all_recipients_visible: bool = False
    sender: str = ""
    tags: list[str] = field(default_factory=list)


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class MockMailgun:
    def __init__(
        self,
        *,
        fail_rate: float = 0.0,
        fail_statuses: tuple[int, ...] = (429, 500),
        fail_first: int = 0,
        delay: float = 0.0,
        seed: int = 0,
        domain: str = "mg.example.com",
        api_key: str = "mock-key",
        verbose: bool = False,
    ) -> None:
        self.fail_rate = fail_rate
        self.fail_statuses = fail_statuses
        self.fail_first = fail_first
        self.delay = delay
        self.seed = seed
        self.domain = domain
        self.api_key = api_key
        self.verbose = verbose
        self.url = ""
        self._auth = "Basic " + base64.b64encode(f"api:{api_key}".encode()).decode()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.reset()

    def reset(self) -> None:
        """Forget everything received and restart failure injection from scratch."""
        with self._lock:
            self.received: list[Received] = []
            self.requests = 0
            self.failures = 0
            self._calls = 0
            self._failed_so_far = 0
            self._random = random.Random(self.seed)

    def start(self, port: int = 0) -> MockMailgun:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        # Handler threads may sit on idle keep-alive connections; never let them block exit.
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/v3"
        # A short poll interval makes stop() quick, which adds up over a test suite.
        serve = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="mock-mailgun", daemon=True)
        serve.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MockMailgun:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def counts(self) -> collections.Counter[str]:
        with self._lock:
            return collections.Counter(r.recipient for r in self.received)

    def settings(self) -> dict:
        return {
            "EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend",
            "ANYMAIL": {
                "MAILGUN_API_KEY": self.api_key,
                "MAILGUN_API_URL": self.url,
                "MAILGUN_SENDER_DOMAIN": self.domain,
            },
        }

    def handle_send(self, domain: str, authorization: str | None, content_type: str, body: bytes) -> tuple[int, dict]:
        """Answer one messages API call with (HTTP status, JSON body)."""
        try:
            answer, count = self._accept(domain, authorization, content_type, body)
            status = 200
        except Rejected as err:
            status, answer, count = err.status, {"message": err.message}, 0
        if self.verbose:
            print(
                f"POST /v3/{domain}/messages -> {status} {answer.get('id', answer['message'])} ({count} messages)",
                flush=True,
            )
        return status, answer

    def _accept(self, domain: str, authorization: str | None, content_type: str, body: bytes) -> tuple[dict, int]:
        if authorization != self._auth:
            raise Rejected(401, "Forbidden")
        if domain != self.domain:
            # anymail recognises this wording and explains the misconfiguration.
            raise Rejected(404, f"Domain not found: {domain}")
        with self._lock:
            self._calls += 1
            request_no = self._calls
            status = self._injected_failure()
        if self.delay:
            time.sleep(self.delay)
        if status:
            raise Rejected(status, "Injected failure: try again later")

        form = parse_form(content_type, body)
        message_id = f"<{time.strftime('%Y%m%d%H%M%S', time.gmtime())}.{request_no}.{random.randrange(99999)}@{domain}>"
        received = split_into_messages(form, message_id, request_no)
        with self._lock:
            self.received.extend(received)
            self.requests += 1
        return {"id": message_id, "message": "Queued. Thank you."}, len(received)

    def _injected_failure(self) -> int:
        # Called with the lock held, so the seeded sequence is the same on every run.
        if self._calls <= self.fail_first:
            status = self.fail_statuses[0]
        elif self.fail_rate and self._random.random() < self.fail_rate:
            status = self.fail_statuses[self._failed_so_far % len(self.fail_statuses)]
        else:
            return 0
        self._failed_so_far += 1
        self.failures += 1
        return status


def parse_form(content_type: str, body: bytes) -> Form:
    """Field name -> values, in order; repeated fields such as ``to`` keep every value."""
    form: Form = {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser().parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
        if not message.is_multipart():
            raise Rejected(400, "Malformed multipart body")
        for part in message.get_payload():
            name = part.get_param("name", header="content-disposition")
            # Attachments are accepted but not recorded: nothing in Amends inspects them.
            if name is None or part.get_filename() is not None:
                continue
            payload = part.get_payload(decode=True) or b""
            form.setdefault(name, []).append(payload.decode(part.get_content_charset() or "utf-8"))
    else:
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            form.setdefault(name, []).append(value)
    return form


def split_into_messages(form: Form, message_id: str, request_no: int) -> list[Received]:
    """One Received per ``to`` address, personalised the way Mailgun would."""
    if not form.get("from"):
        raise Rejected(400, "'from' parameter is missing")
    if not form.get("to"):
        raise Rejected(400, "'to' parameter is missing")
    if not (form.get("text") or form.get("html") or form.get("template")):
        raise Rejected(400, "Need at least one of 'text', 'html' or 'template' parameters specified")
    recipients = [address for value in form["to"] for address in addresses(value)]
    if any("@" not in address for address in recipients):
        raise Rejected(400, "'to' parameter is not a valid address. please check documentation")
    if len(recipients) > MAX_RECIPIENTS:
        raise Rejected(400, f"Too many recipients: at most {MAX_RECIPIENTS} are allowed per message")

    batch = "recipient-variables" in form
    try:
        all_variables = json.loads(form["recipient-variables"][0]) if batch else {}
    except ValueError as err:
        raise Rejected(400, "'recipient-variables' parameter is not a valid JSON") from err
    if not isinstance(all_variables, dict):
        raise Rejected(400, "'recipient-variables' parameter is not a valid JSON")
    all_variables = {address.lower(): variables for address, variables in all_variables.items()}

    subject = first(form, "subject")
    text = first(form, "text")
    html = first(form, "html")
    headers = {name[2:]: values[-1] for name, values in form.items() if name.startswith("h:")}
    custom = {name[2:]: values[-1] for name, values in form.items() if name.startswith("v:")}
    visible = not batch and len(recipients) > 1
    sender = first(form, "from")
    tags = form.get("o:tag", [])

    received = []
    for address in recipients:
        recipient = address.lower()
        variables = all_variables.get(recipient, {})
        received.append(
            Received(
                recipient=recipient,
                subject=substitute(subject, variables),
                text=substitute(text, variables),
                html=substitute(html, variables),
                headers={name: substitute(value, variables) for name, value in headers.items()},
                variables=variables,
                custom_data={name: substitute(value, variables) for name, value in custom.items()},
                message_id=message_id,
                request_no=request_no,
                all_recipients_visible=visible,
                sender=sender,
                tags=list(tags),
            )
        )
    return received


def addresses(value: str) -> list[str]:
    # getaddresses is correct for every form but slow enough to matter at 1,000 recipients a call.
    simple = SIMPLE_ADDRESS.fullmatch(value.strip())
    if simple:
        return [simple.group(1) or simple.group(2)]
    return [address for _, address in getaddresses([value])]


def first(form: Form, name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def substitute(value: str, variables: dict) -> str:
    """Replace %recipient.KEY% like Mailgun; unknown keys are left in place."""
    if "%recipient." not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in variables:
            return match.group(0)
        found = variables[key]
        return found if isinstance(found, str) else json.dumps(found)

    return PLACEHOLDER.sub(replace, value)


def _handler_for(mock: MockMailgun) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, so a requests.Session reuses one connection across sends.
        protocol_version = "HTTP/1.1"
        # Without this a small body written after the headers can wait ~40 ms for a delayed ACK.
        disable_nagle_algorithm = True
        # Idle keep-alive connections give up their thread eventually.
        timeout = 60

        def do_GET(self) -> None:
            if self.path == "/health":
                self._answer(200, {"status": "ok"})
            else:
                self._answer(404, {"message": "Not found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if len(parts) != 3 or parts[0] != "v3" or parts[2] != "messages":
                self._answer(404, {"message": "Not found"})
                return
            status, answer = mock.handle_send(
                parts[1], self.headers.get("Authorization"), self.headers.get("Content-Type", ""), body
            )
            self._answer(status, answer)

        def _answer(self, status: int, answer: dict) -> None:
            if status == 401:
                # Mailgun answers a bad key with a bare text body, not JSON.
                payload, content_type = b"Forbidden", "text/plain"
            else:
                payload, content_type = json.dumps(answer).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if status == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a mock Mailgun messages API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--domain", default="mg.example.com")
    args = parser.parse_args()
    mock = MockMailgun(
        fail_rate=args.fail_rate, fail_first=args.fail_first, delay=args.delay, domain=args.domain, verbose=True
    )
    mock.start(args.port)
    # Stop the same way on kill as on Ctrl-C, so the summary is printed either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"Mock Mailgun listening; Django settings: {json.dumps(mock.settings())}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        mock.stop()
        print(f"{mock.requests} accepted, {mock.failures} failed, {len(mock.received)} messages")


if __name__ == "__main__":
    main()
