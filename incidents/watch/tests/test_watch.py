"""The watch end to end through its SendGrid endpoint: each rule, grouping, the draft incident, replays, retention."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from incidents.models import AffectedPerson, Incident, SendEvent, Suppression
from incidents.watch import services, services_alerts, windows
from incidents.watch.fixtures import sendgrid_message
from incidents.watch.models import WatchAlert, WatchBatch, WatchedEvent, WatchRule, WorkflowMinute

pytestmark = pytest.mark.django_db

AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:s3cret").decode()}
T0 = int(datetime(2026, 11, 20, 14, 0, tzinfo=UTC).timestamp())
POSTS = []


@pytest.fixture(autouse=True)
def _watch(settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret"}
    settings.WATCH_REDIS_URL = "fakeredis://"
    settings.WATCH_ALERT_EMAILS = ["oncall@example.com"]
    settings.WATCH_ALERT_WEBHOOK_URL = "https://chat.example.com/hook"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    windows.redis_client().flushall()
    services.esp_switch(esp="sendgrid", enabled=True)
    POSTS.clear()

    class Sent:
        def raise_for_status(self):
            return None

    monkeypatch.setattr(
        services_alerts.requests, "post", lambda url, json, timeout: POSTS.append((url, json)) or Sent()
    )
    CAPTURE[:] = [django_capture_on_commit_callbacks]


CAPTURE = []


def post(events: list[dict], auth=AUTH):
    """POST as SendGrid does, then run what it queued (counting, alerts, ledgers) as the workers would."""
    with CAPTURE[0](execute=True):
        return Client().post("/watch/sendgrid/", json.dumps(events), content_type="application/json", **auth)


def loop(workflow: str, people: int, times: int, every: int = 60, start: int = T0) -> list[dict]:
    events = []
    for t in range(times):
        for p in range(people):
            events += sendgrid_message(email=f"p{p}@example.com", ts=start + t * every + p, workflow=workflow)
    return events


def test_it_alerts_once_when_a_person_gets_more_than_5_messages_from_one_workflow_in_10_minutes():
    assert post(loop("nurture", people=3, times=5)).status_code == 200
    assert not WatchAlert.objects.exists()  # 5 messages each: not more than 5
    post(loop("nurture", people=3, times=1, start=T0 + 5 * 60))
    alert = WatchAlert.objects.get()
    assert alert.rules == ["person_burst"] and alert.workflow == "nurture" and alert.people == 3
    assert len(mail.outbox) == 1 and len(POSTS) == 1
    text = POSTS[0][1]["text"]
    assert "nurture" in text and "People so far: 3" in text and "messages a minute" in text
    assert f"/incidents/{alert.incident_id}/" in text and mail.outbox[0].body == text


def test_it_counts_each_message_once_and_not_across_workflows_or_outside_10_minutes():
    post(loop("a", people=1, times=3) + loop("b", people=1, times=3))  # 6 messages, 3 per workflow
    post(loop("a", people=1, times=3, every=400, start=T0 + 1000))  # 3 more, 400 s apart
    assert not WatchAlert.objects.exists()


def test_it_groups_every_later_offence_of_the_burst_into_one_alert():
    for minute in range(12):
        post(loop("nurture", people=5, times=1, start=T0 + minute * 60))
    assert WatchAlert.objects.count() == 1 and len(mail.outbox) == 1 and len(POSTS) == 1
    assert WatchAlert.objects.get().people == 5


def test_it_opens_a_draft_incident_at_the_first_offending_event_with_its_ledger_filled():
    post(loop("quiet", people=2, times=1, start=T0 - 3600))  # the workflow's earlier, normal sends
    post(loop("nurture", people=4, times=8, every=30, start=T0 + 7))
    alert = WatchAlert.objects.get()
    incident = Incident.objects.get(id=alert.incident_id)
    assert incident.started_at == datetime.fromtimestamp(T0 + 7, tz=UTC)
    assert incident.workflows == ["nurture"] and incident.ended_at is None
    people = AffectedPerson.objects.filter(incident=incident)
    assert people.count() == 4 and {p.messages for p in people} == {8}
    assert {p.max_in_10_min for p in people} == {8}
    # Events that keep coming fill the ledger on the next refresh.
    post(loop("nurture", people=5, times=1, start=T0 + 300))
    services_alerts.ledgers_refresh()
    assert AffectedPerson.objects.filter(incident=incident).count() == 5


def test_it_alerts_on_a_workflow_sending_10_times_its_usual_hour():
    for hour in range(8):  # eight usual hours of 600 messages
        post(
            [
                e
                for i in range(600)
                for e in sendgrid_message(
                    email=f"u{i}@example.com", ts=T0 + hour * 3600 + i * 5, workflow="digest", events=("processed",)
                )
            ]
        )
    services.minutes_flush()
    assert windows.baselines(esp="sendgrid", workflows=["digest"])["digest"][0] == pytest.approx(600, rel=0.1)
    assert not WatchAlert.objects.exists()
    start = T0 + 9 * 3600
    post(
        [
            e
            for i in range(6100)
            for e in sendgrid_message(
                email=f"v{i}@example.com", ts=start + i // 200, workflow="digest", events=("processed",)
            )
        ]
    )
    alert = WatchAlert.objects.get()
    assert alert.rules == ["volume"] and "6,100 messages in the last hour, usually 59" in alert.summary
    # The draft opens at the first minute over 10x the usual minute, not an hour back.
    assert Incident.objects.get().started_at == datetime.fromtimestamp(start, tz=UTC)


def test_it_alerts_on_messages_to_addresses_on_the_suppression_list_sent_after_they_were_suppressed():
    Suppression.objects.create(email="gone@example.com", reason="unsubscribed", created=timezone.now())
    post(sendgrid_message(email="gone@example.com", ts=T0, workflow="promo"))  # sent before: not an offence
    assert not WatchAlert.objects.exists()
    later = int(timezone.now().timestamp()) + 5
    post(sendgrid_message(email="gone@example.com", ts=later, workflow="promo"))
    alert = WatchAlert.objects.get()
    assert alert.rules == ["suppressed"] and "suppression list" in alert.summary


def test_it_alerts_when_complaints_pass_0_1_percent_of_a_workflow_s_last_hour():
    sends = [
        e
        for i in range(2000)
        for e in sendgrid_message(email=f"c{i}@example.com", ts=T0 + i, workflow="promo", events=("processed",))
    ]
    complaint = {**sends[0], "event": "spamreport", "timestamp": T0 + 2100}
    post(sends + [{**complaint, "sg_event_id": f"spam-{i}", "email": f"c{i}@example.com"} for i in range(2)])
    assert not WatchAlert.objects.exists()  # 2 in 2,000 = 0.1%: not above
    post([{**complaint, "sg_event_id": "spam-3", "email": "c3@example.com"}])  # 3 in 2,000 = 0.15%
    assert WatchAlert.objects.get().rules == ["complaints"]


def test_it_applies_a_replayed_post_once():
    events = loop("nurture", people=1, times=4)
    post(events)
    post(events)  # SendGrid retries the whole POST
    post(events[:4])
    assert WatchedEvent.objects.count() == len(events)
    assert not WatchAlert.objects.exists()  # 4 messages, however often they are posted
    assert WatchBatch.objects.filter(state="done").count() == 3


def test_it_keeps_a_post_whose_event_holds_a_nul_character_skipping_only_that_event(caplog):
    events = loop("nurture", people=2, times=2)
    events[1]["sg_event_id"] = "e\x00"
    events[2]["category"] = ["nurture", "n\x00"]

    response = post(events)

    assert response.status_code == 200
    assert WatchedEvent.objects.count() == len(events) - 2
    assert "a NUL character in its event id" in caplog.text
    assert "a NUL character in its categories or tags" in caplog.text


def test_it_counts_a_batch_once_even_when_its_task_runs_twice():
    post(loop("nurture", people=1, times=6))
    batch = WatchBatch.objects.get()
    assert services.batch_count(batch_id=batch.id) is False  # already claimed and done
    WatchBatch.objects.filter(id=batch.id).update(state="queued")  # a lost worker's batch, recounted
    assert services.batch_count(batch_id=batch.id) is True
    assert WatchAlert.objects.count() == 1 and len(mail.outbox) == 1


def test_it_refuses_wrong_credentials_and_answers_404_when_the_watch_is_off():
    bad = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:nope").decode()}
    assert post(loop("x", 1, 1), auth=bad).status_code == 400
    services.esp_switch(esp="sendgrid", enabled=False)
    assert post(loop("x", 1, 1)).status_code == 404
    assert post(loop("x", 1, 1), auth=bad).status_code == 400  # the switch reveals nothing to a stranger
    assert not WatchedEvent.objects.exists()
    services.esp_switch(esp="sendgrid", enabled=True)
    assert Client().post("/watch/sendgrid/", "{not json", content_type="application/json", **AUTH).status_code == 400


def test_it_deletes_raw_events_after_the_kept_days_and_keeps_the_incident_s_ledger(settings):
    post(loop("nurture", people=2, times=6))
    incident = Incident.objects.get()
    kept = SendEvent.objects.filter(incident=incident).count()
    assert kept == WatchedEvent.objects.count() > 0
    WatchedEvent.objects.update(received_at=timezone.now() - timedelta(days=settings.WATCH_KEEP_DAYS, minutes=1))
    post(loop("other", people=1, times=1))  # a fresh event stays
    assert services.events_expire() == kept
    assert WatchedEvent.objects.count() == 2
    assert SendEvent.objects.filter(incident=incident).count() == kept
    assert AffectedPerson.objects.filter(incident=incident).count() == 2


def test_it_opens_a_new_alert_after_a_quiet_burst_and_retries_a_failed_notification(settings, monkeypatch):
    post(loop("nurture", people=1, times=6))
    post(loop("nurture", people=1, times=1, start=T0 + 3000))  # the workflow's normal sending, after the burst
    WatchAlert.objects.update(last_seen_at=timezone.now() - timedelta(hours=1))
    assert services_alerts.bursts_close() == 1
    incident = Incident.objects.get()
    assert incident.ended_at == datetime.fromtimestamp(T0 + 5 * 60 + 1, tz=UTC)  # its last offending event
    assert AffectedPerson.objects.get(incident=incident).messages == 6  # the later, normal send is not in it
    monkeypatch.setattr(settings, "WATCH_ALERT_WEBHOOK_URL", "")
    post(loop("nurture", people=1, times=6, start=T0 + 7200))
    assert WatchAlert.objects.count() == 2 and len(mail.outbox) == 2


def test_it_dismisses_an_alert_without_changing_any_rule(marketer_client):
    post(loop("nurture", people=1, times=6))
    alert = WatchAlert.objects.get()
    page = marketer_client.get("/watch/")
    assert page.status_code == 200 and b"nurture" in page.content and b"This is not an incident" in page.content
    response = marketer_client.post(f"/watch/alerts/{alert.id}/dismiss/", {"note": "a planned re-send"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.dismissed_at and alert.dismiss_note == "a planned re-send"
    assert Incident.objects.get().status == Incident.Status.CLOSED
    assert not WatchRule.objects.exists()  # every rule still at its default
    post(loop("nurture", people=1, times=1, start=T0 + 400))
    assert WatchAlert.objects.count() == 1 and len(mail.outbox) == 1  # same burst: grouped, not told again
    assert b"No rule was changed" in marketer_client.get("/watch/").content


def test_it_saves_a_rule_edited_on_the_page(marketer_client):
    response = marketer_client.post(
        "/watch/rules/person_burst/",
        {
            "person_burst-kind": "person_burst",
            "person_burst-enabled": "on",
            "person_burst-threshold": "10",
            "person_burst-minimum": "600",
        },
    )
    assert response.status_code == 302
    post(loop("nurture", people=1, times=8))
    assert not WatchAlert.objects.exists()


def test_it_keeps_minutes_for_the_page():
    post(loop("nurture", people=3, times=2))
    services.minutes_flush()
    assert sum(WorkflowMinute.objects.values_list("messages", flat=True)) == 6


def test_it_counts_a_batch_whose_task_was_lost_on_the_recovery_job(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the POST's task never reaches a worker
        Client().post("/watch/sendgrid/", json.dumps(loop("nurture", 1, 6)), content_type="application/json", **AUTH)
    batch = WatchBatch.objects.get()
    assert batch.state == "queued" and not WatchAlert.objects.exists()
    assert services.batches_requeue() == 0  # not late yet
    late = timezone.now() - timedelta(minutes=1)
    WatchBatch.objects.update(received_at=late)
    WatchedEvent.objects.update(received_at=late)
    with CAPTURE[0](execute=True):
        assert services.batches_requeue() == 1
    assert WatchBatch.objects.get().state == "done" and WatchAlert.objects.count() == 1


def test_it_retries_an_alert_whose_webhook_failed_without_emailing_twice(monkeypatch):
    def refuse(url, json, timeout):
        raise services_alerts.requests.ConnectionError("chat is down")

    monkeypatch.setattr(services_alerts.requests, "post", refuse)
    post(loop("nurture", people=1, times=6))
    alert = WatchAlert.objects.get()
    assert alert.emailed_at and not alert.posted_at and "chat is down" in alert.notify_error
    monkeypatch.setattr(services_alerts.requests, "post", lambda url, json, timeout: POSTS.append(json) or _Ok())
    WatchAlert.objects.update(notify_claimed_at=timezone.now() - timedelta(minutes=5))
    with CAPTURE[0](execute=True):
        assert services_alerts.alerts_recover() == 1
    alert.refresh_from_db()
    assert alert.notified_at and len(POSTS) == 1 and len(mail.outbox) == 1


class _Ok:
    def raise_for_status(self):
        return None


def test_it_watches_events_without_a_workflow_too():
    events = [{k: v for k, v in e.items() if k != "category"} for e in loop("x", people=2, times=6)]
    post(events)
    alert = WatchAlert.objects.get()
    assert alert.workflow == "(no workflow)"
    incident = Incident.objects.get(id=alert.incident_id)
    assert incident.workflows == [] and AffectedPerson.objects.filter(incident=incident).count() == 2


def test_it_shows_events_per_minute_per_workflow(marketer_client):
    post(loop("nurture", people=3, times=2))
    services.minutes_flush()
    page = marketer_client.get("/watch/").content.decode()
    assert "Events per minute per workflow" in page and "nurture" in page and "6 <small>(3)</small>" in page
