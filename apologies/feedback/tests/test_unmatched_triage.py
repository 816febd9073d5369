"""Sorting out the unmatched replies: attaching one to its campaign, dismissing what is about no apology, restoring."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apologies.campaigns import planning
from apologies.feedback import services as feedback
from apologies.feedback.models import ReplyError
from apologies.models import AuditEvent, Campaign, Reply
from apologies.tests.factories import IncidentFactory, person
from incidents.auditlog.models import AuditEntry
from incidents.models import Suppression

pytestmark = pytest.mark.django_db

UNMATCHED = reverse("apologies:replies_unmatched")
NAV = reverse("incidents:list")


@pytest.fixture
def other_campaign(marketer) -> Campaign:
    incident = IncidentFactory(title="Another incident")
    person(incident, "someone@example.com")
    return planning.campaign_create(incident=incident, name="Sorry again", author=marketer)


def stray(n: int = 1, **fields) -> list[Reply]:
    start = timezone.now() - timedelta(days=1)
    return [
        Reply.objects.create(
            **{"from_email": f"p{i}@example.org", "subject": f"s{i}", "received_at": start + timedelta(minutes=i)}
            | fields
        )
        for i in range(n)
    ]


def url(name: str, reply: Reply) -> str:
    return reverse(f"apologies:{name}", args=[reply.id])


def badge(client) -> str:
    html = client.get(NAV).content.decode()
    start = html.index(f'<a href="{UNMATCHED}">')
    return html[start : html.index("</a>", start)]


def test_it_attaches_a_reply_from_another_address_to_the_campaign_and_its_delivery(marketer_client, sent):
    [reply] = stray(from_email="jane.private@example.org", text="Thank you, no harm done.")
    response = marketer_client.post(
        url("reply_attach", reply), {"campaign": sent.campaign_id, "email": "Jane@Example.com"}, follow=True
    )
    assert response.redirect_chain == [(reverse("apologies:replies", args=[sent.campaign_id]), 302)]
    html = response.content.decode()
    assert "Thank you, no harm done." in html and "matched by staff" in html
    assert "to the apology to jane@example.com" in html

    reply.refresh_from_db()
    assert (reply.campaign_id, reply.delivery, reply.matched_by) == (sent.campaign_id, sent, Reply.Match.STAFF)
    assert reply not in feedback.replies_unmatched()
    assert AuditEvent.objects.filter(campaign=sent.campaign, action="reply attached").exists()


def test_it_takes_the_sender_s_address_when_none_is_given(marketer_client, sent):
    [reply] = stray(from_email="jane@example.com")
    marketer_client.post(url("reply_attach", reply), {"campaign": sent.campaign_id, "email": ""})
    reply.refresh_from_db()
    assert reply.delivery == sent


def test_it_attaches_to_the_campaign_alone_and_says_so_when_no_apology_went_to_the_address(marketer_client, sent):
    [reply] = stray(from_email="stranger@example.org")
    response = marketer_client.post(url("reply_attach", reply), {"campaign": sent.campaign_id}, follow=True)
    assert "but to no apology in it: it has none to stranger@example.org" in response.content.decode()
    reply.refresh_from_db()
    assert (reply.campaign_id, reply.delivery, reply.matched_by) == (sent.campaign_id, None, Reply.Match.STAFF)


def test_it_offers_the_sender_s_campaigns_first_and_any_other_too(marketer_client, campaign, other_campaign):
    [reply] = stray(from_email="jane@example.com")
    html = marketer_client.get(url("reply_detail", reply)).content.decode()
    leads = html.index('<optgroup label="Its sender is a recipient of">')
    others = html.index('<optgroup label="Other campaigns">')
    assert leads < html.index(f'value="{campaign.id}" selected') < others < html.index(f'value="{other_campaign.id}"')
    assert 'value="jane@example.com"' in html  # the address defaults to the sender's

    marketer_client.post(url("reply_attach", reply), {"campaign": other_campaign.id})
    reply.refresh_from_db()
    assert (reply.campaign, reply.delivery) == (other_campaign, None)


def test_it_suppresses_the_delivery_s_address_when_a_never_again_reply_is_attached(marketer_client, sent):
    [reply] = stray(from_email="jane.private@example.org", kind=Reply.Kind.NEVER_AGAIN)
    marketer_client.post(url("reply_attach", reply), {"campaign": sent.campaign_id, "email": "jane@example.com"})
    suppressed = set(Suppression.objects.filter(reason="never_again").values_list("email", flat=True))
    assert suppressed == {"jane@example.com", "jane.private@example.org"}


def test_it_suppresses_a_recipient_whose_apology_is_not_out_yet_when_never_again_is_attached(marketer, campaign):
    [reply] = stray(from_email="jane.private@example.org", kind=Reply.Kind.NEVER_AGAIN)
    feedback.reply_attach(reply=reply, campaign=campaign, email="jane@example.com", user=marketer)
    assert reply.delivery is None
    assert Suppression.objects.filter(email="jane@example.com", reason="never_again").exists()


def test_it_refuses_to_attach_a_reply_that_belongs_to_a_campaign(marketer, marketer_client, sent, other_campaign):
    [reply] = stray(campaign=sent.campaign, delivery=sent, matched_by=Reply.Match.REPLY_TO)
    response = marketer_client.post(url("reply_attach", reply), {"campaign": other_campaign.id}, follow=True)
    assert "already belongs to the campaign Sorry for the 25 emails: it is no longer unmatched" in (
        response.content.decode()
    )
    reply.refresh_from_db()
    assert (reply.campaign_id, reply.delivery, reply.matched_by) == (sent.campaign_id, sent, Reply.Match.REPLY_TO)
    assert not AuditEvent.objects.filter(action="reply attached").exists()
    with pytest.raises(ReplyError):
        feedback.reply_attach(reply=reply, campaign=other_campaign, email="", user=marketer)


def test_it_refuses_an_attachment_without_a_campaign_or_with_a_bad_address(marketer_client, sent):
    [reply] = stray()
    response = marketer_client.post(url("reply_attach", reply), {"campaign": "", "email": "not an address"})
    assert response.status_code == 302 and response.url == url("reply_detail", reply)
    reply.refresh_from_db()
    assert reply.campaign is None


@pytest.mark.parametrize("name", ["reply_attach", "reply_dismiss", "reply_restore"])
def test_it_refuses_a_viewer_every_post(viewer_client, sent, name):
    [reply] = stray()
    response = viewer_client.post(url(name, reply), {"campaign": sent.campaign_id})
    assert response.status_code == 403
    reply.refresh_from_db()
    assert reply.campaign is None and reply.dismissed_at is None


@pytest.mark.parametrize("name", ["reply_attach", "reply_dismiss", "reply_restore"])
def test_it_changes_nothing_on_a_get(marketer_client, sent, name):
    [reply] = stray(dismissed_at=timezone.now()) if name == "reply_restore" else stray()
    response = marketer_client.get(url(name, reply), {"campaign": sent.campaign_id})
    assert response.status_code == 405
    after = Reply.objects.get(id=reply.id)
    assert (after.campaign_id, after.dismissed_at) == (None, reply.dismissed_at)


def test_it_leaves_dismissed_replies_out_of_the_list_and_the_count(marketer, marketer_client):
    keep, spam = stray(2, kind=Reply.Kind.AUTO_REPLY)
    assert badge(marketer_client).endswith('<span class="badge">2</span>')

    response = marketer_client.post(url("reply_dismiss", spam), {"back": "list", "page": "1"})
    assert response.status_code == 302 and response.url == f"{UNMATCHED}?page=1"
    spam.refresh_from_db()
    assert spam.dismissed_by == marketer and spam.dismissed_at is not None
    assert list(feedback.replies_unmatched()) == [keep]
    assert badge(marketer_client).endswith('<span class="badge">1</span>')
    html = marketer_client.get(UNMATCHED).content.decode()
    assert keep.from_email in html and spam.from_email not in html
    assert '<a href="?dismissed=1">Show the 1 dismissed</a>' in html

    dismissed = marketer_client.get(UNMATCHED, {"dismissed": "1"}).content.decode()
    assert spam.from_email in dismissed and keep.from_email not in dismissed and "by maya" in dismissed
    assert AuditEntry.objects.filter(action="reply.dismissed", target=f"reply {spam.id}").exists()


def test_it_restores_a_dismissed_reply_from_its_page(marketer_client):
    [reply] = stray()
    marketer_client.post(url("reply_dismiss", reply))
    detail = marketer_client.get(url("reply_detail", reply)).content.decode()
    assert "Dismissed by maya" in detail and "Undo: restore it</button>" in detail
    assert badge(marketer_client) == f'<a href="{UNMATCHED}">Unmatched replies'

    response = marketer_client.post(url("reply_restore", reply))
    assert response.status_code == 302 and response.url == url("reply_detail", reply)
    reply.refresh_from_db()
    assert (reply.dismissed_at, reply.dismissed_by) == (None, None)
    assert list(feedback.replies_unmatched()) == [reply]
    assert badge(marketer_client).endswith('<span class="badge">1</span>')
    assert "Dismiss</button>" in marketer_client.get(url("reply_detail", reply)).content.decode()


def test_it_refuses_to_dismiss_a_matched_reply_or_twice_and_to_restore_what_is_not_dismissed(marketer, sent):
    [matched] = stray(campaign=sent.campaign, delivery=sent)
    with pytest.raises(ReplyError, match="belongs to a campaign"):
        feedback.reply_dismiss(reply=matched, user=marketer)
    [reply] = stray()
    with pytest.raises(ReplyError, match="not dismissed"):
        feedback.reply_restore(reply=reply, user=marketer)
    feedback.reply_dismiss(reply=reply, user=marketer)
    with pytest.raises(ReplyError, match="dismissed already"):
        feedback.reply_dismiss(reply=reply, user=marketer)


def test_it_lifts_the_dismissal_of_a_reply_attached_after_all(marketer, sent):
    [reply] = stray(from_email="jane@example.com")
    feedback.reply_dismiss(reply=reply, user=marketer)
    feedback.reply_attach(reply=reply, campaign=sent.campaign, email="", user=marketer)
    reply.refresh_from_db()
    assert (reply.campaign_id, reply.delivery, reply.dismissed_at) == (sent.campaign_id, sent, None)
    assert reply not in feedback.replies_dismissed()


def test_it_shows_a_viewer_neither_the_attach_form_nor_the_dismiss_button(viewer_client, campaign):
    [reply] = stray(from_email="jane@example.com")
    assert "Dismiss</button>" not in viewer_client.get(UNMATCHED).content.decode()
    detail = viewer_client.get(url("reply_detail", reply)).content.decode()
    assert "Attach</button>" not in detail and "Dismiss</button>" not in detail
