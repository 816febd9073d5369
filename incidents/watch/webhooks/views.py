"""The watch endpoints: each ESP's anymail tracking view, validated identically, handing its parsed events to the
watch instead of the tracking signal (the apology deliveries' tracking is not touched)."""

from __future__ import annotations

import logging

from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailersend import MailerSendTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.mailjet import MailjetTrackingWebhookView
from anymail.webhooks.mandrill import MandrillCombinedWebhookView
from anymail.webhooks.postal import PostalTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.resend import ResendTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from anymail.webhooks.sparkpost import SparkPostTrackingWebhookView
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotFound

from incidents.watch import services

log = logging.getLogger(__name__)

# What a malformed body raises in anymail's parsers: answered 400 (the ESP would retry a 5xx forever).
PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, LookupError)


class WatchMixin:
    """Runs anymail's validators (basic auth, the ESP's signature) and parser, then queues the events to the watch."""

    watch_esp = ""

    def post(self, request, *args, **kwargs):
        self.run_validators(request)
        if not services.esp_watching(esp=self.watch_esp):
            return HttpResponseNotFound("The watch is off for this ESP.", content_type="text/plain")
        try:
            events = self.parse_events(request)
        except PARSE_ERRORS as e:
            log.warning("watch %s refused a body: %r", self.watch_esp, e)
            return HttpResponseBadRequest("Bad webhook body: it is not this ESP's event shape.")
        services.watch_receive(esp=self.watch_esp, events=events)
        return HttpResponse()


def watch_view(base, esp: str):
    return type(f"Watch{base.__name__}", (WatchMixin, base), {"watch_esp": esp}).as_view()


VIEWS = {
    "amazon_ses": watch_view(AmazonSESTrackingWebhookView, "amazon_ses"),
    "brevo": watch_view(BrevoTrackingWebhookView, "brevo"),
    "mailersend": watch_view(MailerSendTrackingWebhookView, "mailersend"),
    "mailgun": watch_view(MailgunTrackingWebhookView, "mailgun"),
    "mailjet": watch_view(MailjetTrackingWebhookView, "mailjet"),
    "mandrill": watch_view(MandrillCombinedWebhookView, "mandrill"),
    "postal": watch_view(PostalTrackingWebhookView, "postal"),
    "postmark": watch_view(PostmarkTrackingWebhookView, "postmark"),
    "resend": watch_view(ResendTrackingWebhookView, "resend"),
    "sendgrid": watch_view(SendGridTrackingWebhookView, "sendgrid"),
    "sparkpost": watch_view(SparkPostTrackingWebhookView, "sparkpost"),
}
assert set(VIEWS) == set(services.ESPS), "every watched ESP has its endpoint"
