"""The email backend that keeps messages in the database (the Outbox page) instead of sending them."""

from __future__ import annotations

from django.core.mail.backends.base import BaseEmailBackend

from apologies.sending.models import CapturedEmail


class CapturedEmailBackend(BaseEmailBackend):
    """The embedded default: every email is kept in the database and shown on the Outbox page."""

    def send_messages(self, email_messages) -> int:
        rows = []
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            headers = dict(message.extra_headers)
            if message.reply_to:
                headers["Reply-To"] = ", ".join(message.reply_to)
            rows.append(
                CapturedEmail(
                    to=", ".join(message.to),
                    from_email=message.from_email,
                    subject=message.subject,
                    text=message.body,
                    html=html,
                    headers=headers,
                    metadata=getattr(message, "metadata", None) or {},
                )
            )
        CapturedEmail.objects.bulk_create(rows)
        return len(rows)
