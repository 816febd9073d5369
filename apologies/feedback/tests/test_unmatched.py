"""Replies that matched no apology: listed for staff, readable whole, reclassifiable, counted in the navigation."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from apologies import links
from apologies.feedback.tests.test_webhooks import inbound, post
from apologies.models import Reply
from apologies.sending import services as sending
from incidents.models import Suppression

pytestmark = pytest.mark.django_db

UNMATCHED = reverse("apologies:replies_unmatched")


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret"}


def unmatched(n: int, *, start=None) -> list[Reply]:
    start = start or timezone.now() - timedelta(days=1)
    return [
        Reply.objects.create(from_email=f"p{i}@example.org", subject=f"s{i}", received_at=start + timedelta(minutes=i))
        for i in range(n)
    ]


def test_it_lists_a_reply_that_matched_no_apology_and_not_a_matched_one(viewer_client, sent):
    stranger = inbound(
        "sorry@amends.localhost",
        "Who is this? I never signed up.\n\nOn Sat, Amends wrote:\n> We're sorry",
        sender="someone.else@example.org",
        subject="Who are you?",
    )
    assert post("/anymail/postmark/inbound/", stranger).status_code == 200
    post("/anymail/postmark/inbound/", inbound(links.reply_address(sent.id), "Merci, c'est gentil."))
    assert Reply.objects.filter(campaign__isnull=False).count() == 1

    html = viewer_client.get(UNMATCHED).content.decode()
    assert "someone.else@example.org" in html and "Who are you?" in html
    assert "Who is this? I never signed up." in html and "We&#x27;re sorry" not in html  # their words, not the quote
    assert 'kind-question">Question<' in html and ">EN<" in html
    assert "jane@example.com" not in html and "Merci" not in html
    reply = Reply.objects.get(campaign__isnull=True)
    assert reverse("apologies:reply_detail", args=[reply.id]) in html


def test_it_lists_them_newest_first(viewer_client):
    older, newer = unmatched(2)
    html = viewer_client.get(UNMATCHED).content.decode()
    assert html.index(newer.from_email) < html.index(older.from_email)


def test_it_pages_them_thirty_at_a_time(viewer_client):
    unmatched(31)
    first = viewer_client.get(UNMATCHED)
    assert [r.from_email for r, _, _ in first.context["rows"]][:2] == ["p30@example.org", "p29@example.org"]
    assert len(first.context["rows"]) == 30 and "Page 1 of 2" in first.content.decode()
    second = viewer_client.get(UNMATCHED, {"page": 2})
    assert [r.from_email for r, _, _ in second.context["rows"]] == ["p0@example.org"]


def test_it_names_the_campaign_whose_recipient_wrote_before_their_apology_went_out(viewer_client, campaign):
    sending.deliveries_create(campaign=campaign)  # queued: the sender match takes only a delivery that went out
    post("/anymail/postmark/inbound/", inbound("sorry@amends.localhost", "What happened?", sender="jane@example.com"))
    reply = Reply.objects.get()
    assert reply.campaign is None

    html = viewer_client.get(UNMATCHED).content.decode()
    assert "recipient of" in html and campaign.get_absolute_url() in html and campaign.name in html
    detail = viewer_client.get(reverse("apologies:reply_detail", args=[reply.id])).content.decode()
    assert "Its sender is a recipient of" in detail and campaign.get_absolute_url() in detail


def test_it_shows_the_whole_reply_with_its_quoted_part(viewer_client):
    reply = Reply.objects.create(
        from_email="someone.else@example.org",
        subject="Who are you?",
        text="Who is this?\n\nOn Sat, Amends wrote:\n> We are sorry",
        html="<p>Who is this?</p><script>alert(1)</script>",
    )
    html = viewer_client.get(reverse("apologies:reply_detail", args=[reply.id])).content.decode()
    assert "matched no apology" in html and "The whole text, quoted part included" in html
    assert "· not matched" in html and "matched by not matched" not in html
    assert "&gt; We are sorry" in html and "<script>" not in html
    assert "Change</button>" not in html  # a viewer reads, an editor reclassifies


def test_it_lets_an_editor_reclassify_an_unmatched_reply_and_stays_on_it(marketer_client):
    reply = Reply.objects.create(from_email="someone.else@example.org", text="Stop writing to me")
    url = reverse("apologies:reply_detail", args=[reply.id])
    assert "Change</button>" in marketer_client.get(url).content.decode()

    response = marketer_client.post(reverse("apologies:reply_reclassify", args=[reply.id]), {"kind": "never_again"})
    assert response.status_code == 302 and response.url == url
    assert Reply.objects.get().kind == "never_again"
    assert Suppression.objects.filter(email="someone.else@example.org", reason="never_again").exists()


def test_it_links_a_matched_reply_to_its_whole_text_from_the_campaign_replies_page(viewer_client, sent):
    post("/anymail/postmark/inbound/", inbound(links.reply_address(sent.id), "Thanks!\n\n> We're sorry"))
    reply = Reply.objects.get()
    html = viewer_client.get(reverse("apologies:replies", args=[sent.campaign_id])).content.decode()
    assert reverse("apologies:reply_detail", args=[reply.id]) in html
    detail = viewer_client.get(reverse("apologies:reply_detail", args=[reply.id])).content.decode()
    assert reverse("apologies:replies", args=[sent.campaign_id]) in detail and "matched no apology" not in detail


def test_it_links_the_page_from_the_navigation_with_its_count(viewer_client, viewer):
    html = viewer_client.get(reverse("incidents:list")).content.decode()
    assert f'<a href="{UNMATCHED}">Unmatched replies</a>' in html  # none yet: no count

    unmatched(2)
    html = viewer_client.get(reverse("incidents:list")).content.decode()
    assert f'<a href="{UNMATCHED}">Unmatched replies <span class="badge">2</span></a>' in html


def test_it_leaves_the_link_out_for_someone_signed_in_without_a_role(client):
    client.force_login(User.objects.create_user("nobody", "nobody@example.org", "pw"))
    html = client.get(reverse("apologies:time_zone")).content.decode()
    assert "Outbox</a>" in html and UNMATCHED not in html
