"""A local stand-in for Lob's print-and-mail API, for tests: what Amends uses, as Lob's API description says.

* HTTP basic auth, the API key as user name and an empty password; a wrong or missing key is 401.
* ``POST /v1/us_verifications`` (JSON or form: primary_line, secondary_line, city, state, zip_code) and
  ``POST /v1/intl_verifications`` (… postal_code, country) answer a ``deliverability``: ``deliverable``,
  or ``undeliverable`` for an address whose first line contains "NOWHERE" or whose postal code is 00000.
* ``POST /v1/letters``, multipart with ``to[…]``, ``from[…]`` (address_line1, address_city, …), ``file``
  (a PDF: it must start with %PDF), ``color``, ``use_type`` (required) and ``metadata[…]``. An
  ``Idempotency-Key`` header makes a repeated request answer the first letter again: never a second one.
  The answer has ``id`` (``ltr_…``), ``expected_delivery_date``, ``metadata`` and ``to``.
* Failures can be injected: ``fail_next`` answers each listed status once, and ``lose_answer_next``
  creates the letter and then answers 500, as when a response is lost on the way back.

``signed_event(...)`` builds a tracking webhook as Lob sends it: an event object with ``event_type.id``
(``letter.mailed`` …) and the letter as ``body``, signed with ``Lob-Signature`` (hex HMAC-SHA256 of
``<Lob-Signature-Timestamp>.<raw body>``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

API_KEY = "test_mock_lob_key"
US_FIELDS = ("primary_line", "city", "state", "zip_code")


@dataclass
class LobLetter:
    id: str
    to: dict
    sender: dict
    metadata: dict
    pdf_bytes: int
    idempotency_key: str
    use_type: str
    fields: dict = field(default_factory=dict)


def parse_body(content_type: str, body: bytes) -> tuple[dict, dict[str, bytes]]:
    """Fields and files of a JSON, form-encoded or multipart body."""
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}"), {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser().parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
        fields, files = {}, {}
        for part in message.get_payload():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = payload
            else:
                fields[name] = payload.decode("utf-8")
        return fields, files
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), {}


def nested(fields: dict, prefix: str) -> dict:
    """`to[address_city]` and friends as {"address_city": …}."""
    start = f"{prefix}["
    return {k[len(start) : -1]: v for k, v in fields.items() if k.startswith(start) and k.endswith("]")}


class MockLob:
    def __init__(self) -> None:
        self.letters: dict[str, LobLetter] = {}
        self.by_key: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.verifications: list[dict] = []
        self.fail_next: list[int] = []
        self.lose_answer_next = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def start(self) -> MockLob:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="mock-lob", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MockLob:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handle(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(("POST", path))
            if not self._authorised(headers.get("Authorization", "")):
                return 401, {"error": {"message": "Your API key is not valid.", "status_code": 401}}
            if self.fail_next:
                status = self.fail_next.pop(0)
                return status, {"error": {"message": "injected failure", "status_code": status}}
            fields, files = parse_body(headers.get("Content-Type", ""), body)
            if path == "/v1/us_verifications":
                return self._verify(fields, US_FIELDS, "zip_code")
            if path == "/v1/intl_verifications":
                return self._verify(fields, ("primary_line", "country"), "postal_code")
            if path == "/v1/letters":
                return self._letter(headers.get("Idempotency-Key", ""), fields, files)
            return 404, {"error": {"message": "Not found", "status_code": 404}}

    @staticmethod
    def _authorised(value: str) -> bool:
        if not value.startswith("Basic "):
            return False
        user, _, _password = base64.b64decode(value[6:]).decode().partition(":")
        return user == API_KEY

    def _verify(self, fields: dict, required: tuple[str, ...], postal: str) -> tuple[int, dict]:
        missing = [f for f in required if not fields.get(f)]
        if missing:
            return 422, {"error": {"message": f"{missing[0]} is required", "status_code": 422}}
        self.verifications.append(fields)
        bad = "NOWHERE" in fields["primary_line"].upper() or fields.get(postal) == "00000"
        return 200, {
            "id": f"{'us' if postal == 'zip_code' else 'intl'}_ver_{secrets.token_hex(6)}",
            "primary_line": fields["primary_line"].upper(),
            "deliverability": "undeliverable" if bad else "deliverable",
            "object": "us_verification" if postal == "zip_code" else "intl_verification",
        }

    def _letter(self, key: str, fields: dict, files: dict) -> tuple[int, dict]:
        if key and key in self.by_key:
            return 200, self.by_key[key]
        to, sender = nested(fields, "to"), nested(fields, "from")
        for who, address in (("to", to), ("from", sender)):
            if not address.get("address_line1") or not address.get("name"):
                return 422, {"error": {"message": f"{who} address is incomplete", "status_code": 422}}
        if not fields.get("use_type"):
            return 422, {"error": {"message": "use_type is required", "status_code": 422}}
        pdf = files.get("file", b"")
        if not pdf.startswith(b"%PDF"):
            return 422, {"error": {"message": "file must be a PDF", "status_code": 422}}
        letter = LobLetter(
            id=f"ltr_{secrets.token_hex(8)}",
            to=to,
            sender=sender,
            metadata=nested(fields, "metadata"),
            pdf_bytes=len(pdf),
            idempotency_key=key,
            use_type=fields["use_type"],
            fields={k: v for k, v in fields.items() if "[" not in k},
        )
        self.letters[letter.id] = letter
        answer = {
            "id": letter.id,
            "object": "letter",
            "to": to,
            "metadata": letter.metadata,
            "expected_delivery_date": (date.today() + timedelta(days=5)).isoformat(),
            "send_date": date.today().isoformat(),
            "carrier": "USPS",
        }
        if key:
            self.by_key[key] = answer
        if self.lose_answer_next:
            self.lose_answer_next -= 1
            return 500, {"error": {"message": "internal error after the letter was created", "status_code": 500}}
        return 200, answer

    def signed_event(self, letter_id: str, event_type: str, *, secret: str, stamp: str | None = None) -> tuple:
        """(body bytes, headers) of a tracking webhook for one of our letters, as Lob signs it."""
        letter = self.letters[letter_id]
        event = {
            "id": f"evt_{secrets.token_hex(8)}",
            "object": "event",
            "event_type": {"id": event_type, "resource": "letters", "object": "event_type"},
            "date_created": "2026-11-25T10:00:00.000Z",
            "reference_id": letter_id,
            "body": {"id": letter_id, "object": "letter", "metadata": letter.metadata, "to": letter.to},
        }
        body = json.dumps(event).encode()
        stamp = stamp or str(int(time.time() * 1000))
        signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return body, {"Lob-Signature": signature, "Lob-Signature-Timestamp": stamp}


def _handler_for(mock: MockLob) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = mock.handle(self.path.split("?", 1)[0], self.headers, body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
