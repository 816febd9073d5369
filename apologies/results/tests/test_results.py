"""A known scenario, Dimdim's: an honest apology by email, then 3 "never again" and 13 thank-yous."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from apologies import links
from apologies.campaigns import planning
from apologies.feedback import services as feedback
from apologies.models import Consent, Delivery, DeliveryEvent, Reply
from apologies.results import services as outcomes
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from apologies.wayback import services as wayback
from incidents.contacts import suppressions
from incidents.models import Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(marketer, approver):
    incident = IncidentFactory()
    for i in range(40):
        person(incident, f"trial{i:02d}@example.com", messages=25 if i < 10 else 3)
    for i in range(4):
        person(incident, f"gone{i}@example.com", state="unsubscribed", messages=60)
        contact(f"gone{i}@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer, gift_tiers=[3])
    sending.deliveries_create(campaign=campaign)
    Delivery.objects.filter(campaign=campaign).update(status="sent")
    Delivery.objects.filter(campaign=campaign, channel="email").exclude(email="trial39@example.com").update(
        delivered_at="2026-11-21T10:00:00Z"
    )
    for i in range(16):
        feedback.reply_log(
            campaign=campaign,
            email=f"trial{i:02d}@example.com",
            channel="phone",
            kind="never_again" if i < 3 else "thanks",
            text="…",
            user=marketer,
        )
    letters = list(campaign.recipients.filter(channel="letter").order_by("email"))
    for r in letters[:2]:
        wayback.consent_record(recipient=r, choice="resubscribe", arrived="link", ip=None, user_agent="")
    wayback.consent_record(recipient=letters[2], choice="resubscribe", arrived="code", ip=None, user_agent="")
    wayback.consent_record(recipient=letters[3], choice="never_again", arrived="link", ip=None, user_agent="")
    return campaign


def test_it_counts_the_funnel_of_a_known_scenario(scenario):
    r = outcomes.results_for(campaigns=[scenario], affected=44)
    assert r["apologised"] == {"email": 40, "letter": 4}
    assert r["delivered"] == 39
    kinds = {k["kind"]: k["n"] for k in r["replies"]}
    assert (kinds["never_again"], kinds["thanks"], r["replies_total"]) == (3, 13, 16)
    # The code re-signup waits for its confirmation email: two count so far.
    assert r["resubscribed"] == 2
    assert r["resubscribed_by_channel"] == {"email": 0, "letter": 2}
    assert r["still_unsubscribed"] == 2
    assert r["never_again"] == 4  # three replies and one choice on the page
    assert r["win_back_by_channel"][1] == {"channel": "letter", "back": 2, "of": 4, "rate": 50.0}
    assert r["cost"] == 4 * scenario.cost_per_letter + 4 * scenario.cost_per_gift
    assert r["cost_per_resignup"] == r["cost"] / 2
    assert Suppression.objects.filter(reason="never_again").count() == 4
    consent = Consent.objects.get(via="letter_code")
    wayback.consent_confirm(consent=consent)
    assert outcomes.results_for(campaigns=[scenario], affected=44)["resubscribed"] == 3


def test_it_shows_dimdims_figures_at_a_glance(client, marketer, scenario):
    client.force_login(marketer)
    html = client.get(reverse("apologies:results", args=[scenario.id])).content.decode()
    assert '<span class="big">3</span> never email me again' in html
    assert '<span class="big">13</span> thank you' in html
    assert "chart-results" in html
    incident_html = client.get(reverse("apologies:incident_results", args=[scenario.incident.id])).content.decode()
    assert '<span class="big">13</span> thank you' in incident_html


def test_it_exports_the_per_person_results(client, marketer, scenario):
    client.force_login(marketer)
    body = b"".join(client.get(reverse("apologies:results_csv", args=[scenario.id])).streaming_content).decode()
    lines = body.splitlines()
    assert lines[0] == ",".join(outcomes.RESULT_COLUMNS)
    trial0 = next(line for line in lines if line.startswith("trial00@"))
    assert ",1,never_again," in trial0
    gone = [row for row in csv.DictReader(io.StringIO(body)) if row["email"].startswith("gone")]
    assert sum(1 for row in gone if row["choice"] == "resubscribe" and row["resubscribed_at"]) == 2


def csv_rows(client, campaign) -> dict[str, dict]:
    body = b"".join(client.get(reverse("apologies:results_csv", args=[campaign.id])).streaming_content).decode()
    return {row["email"]: row for row in csv.DictReader(io.StringIO(body))}


def test_it_counts_an_unsubscribe_from_the_apology_email_everywhere(client, marketer, scenario):
    delivery = Delivery.objects.get(campaign=scenario, email="trial20@example.com")
    # An anonymous visitor follows the email's link and presses the button.
    assert Client().post(reverse("unsubscribe", args=[links.unsubscribe_token(delivery.id)])).status_code == 303
    r = outcomes.results_for(campaigns=[scenario], affected=44)
    assert (r["unsubscribed"], r["complaints"]) == (1, 0)
    assert any(series["name"] == "unsubscribed" for series in r["chart"]["series"])
    client.force_login(marketer)
    html = client.get(reverse("apologies:results", args=[scenario.id])).content.decode()
    assert '<span class="big">1</span> unsubscribed' in html
    incident_html = client.get(reverse("apologies:incident_results", args=[scenario.incident.id])).content.decode()
    assert '<span class="big">1</span> unsubscribed' in incident_html
    rows = csv_rows(client, scenario)
    row = rows["trial20@example.com"]
    assert (row["state"], row["choice"]) == ("unsubscribed", "unsubscribed") and row["unsubscribed_at"]
    assert (rows["trial21@example.com"]["state"], rows["trial21@example.com"]["choice"]) == ("subscribed", "")


def test_it_counts_esp_unsubscribes_and_earlier_link_unsubscribes_once_per_person(scenario):
    by_esp = Delivery.objects.get(campaign=scenario, email="trial22@example.com")
    event = DeliveryEvent.objects.create(
        delivery=by_esp,
        esp_event_id="sendgrid:unsub-1",
        event_type="unsubscribed",
        person_state="unsubscribed",
        recipient=by_esp.email,
        occurred_at=datetime(2026, 11, 21, 12, tzinfo=UTC),
    )
    feedback.tracking_apply(event_id=event.id)
    # Recorded on the suppression list only, as link unsubscribes were before deliveries were stamped.
    suppressions.suppression_add(
        email="trial23@example.com", reason="unsubscribed", source=f"link unsubscribe from campaign {scenario.id}"
    )
    # Another campaign's unsubscribe (campaign 31 is not campaign 3) does not count here.
    suppressions.suppression_add(
        email="trial24@example.com", reason="unsubscribed", source=f"link unsubscribe from campaign {scenario.id}1"
    )
    # The same person unsubscribing again (by the ESP, then by our link) is one person.
    suppressions.suppression_lift(email=by_esp.email, reason="unsubscribed", source="test")
    suppressions.suppression_add(
        email=by_esp.email, reason="unsubscribed", source=f"one-click unsubscribe from campaign {scenario.id}"
    )
    assert set(outcomes.unsubscribes(campaign_ids=[scenario.id])) == {"trial22@example.com", "trial23@example.com"}
    assert outcomes.results_for(campaigns=[scenario], affected=44)["unsubscribed"] == 2


def test_it_shows_a_re_signup_after_an_unsubscribe_as_the_last_word(client, marketer, scenario):
    delivery = Delivery.objects.get(campaign=scenario, email="trial25@example.com")
    wayback.unsubscribe(delivery=delivery, source="link")
    wayback.consent_record(recipient=delivery.recipient, choice="resubscribe", arrived="link", ip=None, user_agent="")
    client.force_login(marketer)
    row = csv_rows(client, scenario)["trial25@example.com"]
    assert (row["state"], row["choice"]) == ("subscribed", "resubscribe")
    assert row["unsubscribed_at"] and row["resubscribed_at"]
    assert outcomes.results_for(campaigns=[scenario], affected=44)["unsubscribed"] == 1


def test_it_lets_staff_reclassify_and_log_replies(client, marketer, scenario):
    client.force_login(marketer)
    reply = Reply.objects.filter(kind="thanks").first()
    client.post(reverse("apologies:reply_reclassify", args=[reply.id]), {"kind": "never_again"})
    reply.refresh_from_db()
    assert (reply.kind, reply.kind_set_by) == ("never_again", marketer)
    assert Suppression.objects.filter(email=reply.from_email, reason="never_again").exists()
    client.post(
        reverse("apologies:reply_log", args=[scenario.id]),
        {"email": "gone1@example.com", "channel": "post", "kind": "complaint", "text": "A letter full of anger"},
    )
    logged = Reply.objects.get(channel="post")
    assert (logged.kind, logged.matched_by, logged.delivery.email) == ("complaint", "staff", "gone1@example.com")
    html = client.get(reverse("apologies:replies", args=[scenario.id]), {"kind": "complaint"}).content.decode()
    assert "A letter full of anger" in html


def test_it_shows_reply_html_cleaned(client, marketer, scenario):
    Reply.objects.create(
        campaign=scenario,
        from_email="x@example.com",
        text="Hi",
        html='<p>Hi</p><script>alert(1)</script><img src="https://t.example/x.gif">',
    )
    client.force_login(marketer)
    html = client.get(reverse("apologies:replies", args=[scenario.id])).content.decode()
    assert "alert(1)" not in html and "t.example" not in html


def test_it_counts_the_people_who_replied_and_only_the_campaigns_people(client, marketer, scenario):
    # trial00 replied by phone already; she writes again, and a stranger's call is logged under the campaign.
    feedback.reply_log(
        campaign=scenario, email="trial00@example.com", channel="phone", kind="thanks", text="…", user=marketer
    )
    feedback.reply_log(
        campaign=scenario, email="stranger@example.com", channel="phone", kind="complaint", text="…", user=marketer
    )
    r = outcomes.results_for(campaigns=[scenario], affected=44)
    assert (r["replied"], r["replies_total"], r["replies_from_others"]) == (16, 17, 1)
    kinds = {k["kind"]: k["n"] for k in r["replies"]}
    assert (kinds["thanks"], kinds["complaint"], r["complaints"]) == (14, 0, 0)
    client.force_login(marketer)
    html = client.get(reverse("apologies:results", args=[scenario.id])).content.decode()
    assert (
        '<span class="big">16</span> people replied <small>(17 replies; 1 more from people not in this audience, '
        "not counted)</small>" in html
    )


def test_it_counts_win_back_of_the_people_who_had_opted_out_only(scenario):
    # Still subscribed, set to a letter by hand (and writing back from it): not one who had opted out.
    hand_set = scenario.recipients.get(email="trial30@example.com")
    scenario.recipients.filter(id=hand_set.id).update(channel="letter", reason="override")
    wayback.consent_record(recipient=hand_set, choice="resubscribe", arrived="link", ip=None, user_agent="")
    # An unsubscribed person set to a letter by hand had opted out.
    gone = scenario.recipients.get(email="gone0@example.com")
    scenario.recipients.filter(id=gone.id).update(reason="override")
    r = outcomes.results_for(campaigns=[scenario], affected=44)
    assert r["win_back_by_channel"][1] == {"channel": "letter", "back": 2, "of": 4, "rate": 50.0}
    assert sum(w["of"] for w in r["win_back_by_tier"]) == 4
    assert sum(w["back"] for w in r["win_back_by_tier"]) == 2


def test_it_keeps_never_again_over_a_later_stay_unsubscribed(client, marketer, scenario):
    never = Consent.objects.get(choice="never_again")
    wayback.consent_record(
        recipient=never.recipient, choice="stay_unsubscribed", arrived="link", ip=None, user_agent=""
    )
    assert Consent.objects.filter(recipient=never.recipient).count() == 2
    client.force_login(marketer)
    assert csv_rows(client, scenario)[never.email]["choice"] == "never_again"
