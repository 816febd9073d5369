import pytest
from django.urls import reverse

from apologies.campaigns import lifecycle, planning
from apologies.models import Campaign, CapturedEmail, CountryPolicy, Delivery
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from conftest import make_user
from incidents.models import Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident():
    incident = IncidentFactory()
    for i in range(5):
        person(incident, f"p{i}@example.com", messages=1 + i * 20)
        contact(f"p{i}@example.com", first_name=f"<b>N{i}</b>")
    person(incident, "gone@example.com", state="unsubscribed")
    contact("gone@example.com", country="DE")
    incident.ledger_stats = {"people": 6}
    incident.save()
    return incident


@pytest.fixture
def campaign(incident, marketer):
    return planning.campaign_create(incident=incident, name="Sorry", author=marketer, seed_list="qa@amends.example")


def test_it_requires_login_and_forbids_writes_to_viewers(client, viewer, campaign):
    urls = [reverse("apologies:detail", args=[campaign.id]), reverse("apologies:recipients", args=[campaign.id])]
    for url in urls:
        assert client.get(url).status_code == 302
    client.force_login(viewer)
    for url in urls + [reverse("apologies:templates", args=[campaign.id]), reverse("apologies:outbox")]:
        assert client.get(url).status_code == 200, url
    for name in ["submit", "approve", "start", "pause", "resume", "cancel", "replan", "settings"]:
        assert client.post(reverse(f"apologies:{name}", args=[campaign.id])).status_code == 403, name
    recipient = campaign.recipients.first()
    assert client.post(reverse("apologies:override", args=[recipient.id])).status_code == 403
    assert client.post(reverse("apologies:template_save", args=[campaign.templates.get().id])).status_code == 403
    assert client.post(reverse("apologies:create", args=[campaign.incident.id])).status_code == 403


def test_it_creates_a_campaign_from_the_incident_page(client, marketer, incident):
    client.force_login(marketer)
    page = client.get(reverse("incidents:detail", args=[incident.id])).content.decode()
    assert reverse("apologies:create", args=[incident.id]) in page
    response = client.post(reverse("apologies:create", args=[incident.id]), {"name": "Big tier only", "tiers": ["3"]})
    campaign = Campaign.objects.get()
    assert response["Location"] == campaign.get_absolute_url()
    assert campaign.audience_tiers == [3]
    assert set(campaign.recipients.values_list("email", flat=True)) == {"p3@example.com", "p4@example.com"}


def test_it_shows_counts_cost_and_the_audit_trail(client, marketer, campaign):
    client.force_login(marketer)
    html = client.get(reverse("apologies:detail", args=[campaign.id])).content.decode()
    assert "Who gets what" in html
    assert "Submit for approval" in html
    assert "Audit trail" in html and "created" in html
    assert "1.50" in html  # one letter at the default cost


def test_it_walks_the_two_person_rule_in_the_browser(
    client, marketer, approver, campaign, django_capture_on_commit_callbacks
):
    client.force_login(marketer)
    client.post(reverse("apologies:submit", args=[campaign.id]))
    response = client.post(reverse("apologies:approve", args=[campaign.id]))
    assert response.status_code == 403  # a marketer is no approver
    client.force_login(approver)
    html = client.get(reverse("apologies:detail", args=[campaign.id])).content.decode()
    assert "Approve" in html
    client.post(reverse("apologies:approve", args=[campaign.id]))
    campaign.refresh_from_db()
    assert campaign.status == "approved"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("apologies:start", args=[campaign.id]))
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    progress = client.get(reverse("apologies:progress", args=[campaign.id])).json()
    assert (progress["sent"], progress["total"], progress["percent"]) == (5, 5, 100)


def test_it_will_not_let_the_author_approve(client, campaign, marketer):
    both = make_user("both", "marketer")
    both.groups.add(*make_user("tmp", "approver").groups.all())
    own = planning.campaign_create(incident=campaign.incident, name="mine", author=both)
    lifecycle.campaign_submit(campaign=own, user=both)
    client.force_login(both)
    html = client.get(reverse("apologies:detail", args=[own.id])).content.decode()
    assert "cannot approve it yourself" in html
    response = client.post(reverse("apologies:approve", args=[own.id]), follow=True)
    assert "a second person has to approve it" in response.content.decode()
    own.refresh_from_db()
    assert own.status == "submitted"


def test_it_refuses_an_unknown_placeholder_when_saving_words(client, marketer, campaign):
    client.force_login(marketer)
    template = campaign.templates.get()
    response = client.post(
        reverse("apologies:template_save", args=[template.id]),
        {"subject": "Sorry {{ frist_name }}", "text_body": "Hi", "html_body": "", "letter_body": "", "invitation": ""},
    )
    assert response.status_code == 400
    assert "unknown placeholder" in response.content.decode()
    template.refresh_from_db()
    assert "frist_name" not in template.subject


def test_it_adds_a_language_variant(client, marketer, campaign):
    client.force_login(marketer)
    client.post(reverse("apologies:template_add", args=[campaign.id]), {"language": "FR", "tier": ""})
    assert campaign.templates.filter(language="fr", tier=-1).exists()


def test_it_previews_a_persons_email_with_their_data_escaped(client, marketer, campaign):
    client.force_login(marketer)
    recipient = campaign.recipients.get(email="p1@example.com")
    html = client.get(reverse("apologies:preview", args=[recipient.id])).content.decode()
    assert "Hi &lt;b&gt;N1&lt;/b&gt;," in html  # text version, escaped by the page
    assert "&amp;lt;b&amp;gt;N1" in html  # HTML version in srcdoc: escaped in the email, then for the attribute
    assert "List-Unsubscribe" in html


def test_it_sends_a_test_to_the_seed_list(client, marketer, campaign, settings):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    client.force_login(marketer)
    recipient = campaign.recipients.get(email="p1@example.com")
    client.post(reverse("apologies:test_send", args=[recipient.id]))
    email = CapturedEmail.objects.get()
    assert email.to == "qa@amends.example"
    assert email.subject.startswith("[TEST]")
    assert not Delivery.objects.exists()


def test_it_refuses_to_override_a_suppressed_address_to_email(client, marketer, campaign):
    Suppression.objects.create(email="p2@example.com", reason="never_again")
    client.force_login(marketer)
    recipient = campaign.recipients.get(email="p2@example.com")
    response = client.post(reverse("apologies:override", args=[recipient.id]), {"channel": "email"}, follow=True)
    assert "suppression list" in response.content.decode()


def test_it_filters_and_exports_who_gets_what(client, marketer, campaign):
    client.force_login(marketer)
    page = client.get(reverse("apologies:recipients", args=[campaign.id]), {"channel": "letter"}).context["page"]
    assert [r.email for r in page] == ["gone@example.com"]
    body = b"".join(client.get(reverse("apologies:recipients_csv", args=[campaign.id])).streaming_content).decode()
    lines = body.splitlines()
    assert lines[0].startswith("email,name,country,messages,tier,state,channel,reason")
    gone = next(line for line in lines if line.startswith("gone@"))
    assert ",letter,unsubscribed," in gone
    assert ",no,no," in gone  # DE: no invitation; no gift tiers


def test_it_edits_country_rules(client, marketer, campaign):
    client.force_login(marketer)
    form = {"country": "de", "letter_allowed": "on", "invite_allowed": "on", "note": "counsel says yes"}
    response = client.post(reverse("apologies:policies"), form)
    assert response.status_code == 200 and "lawful reason" in response.content.decode()
    reasons = {"letter_reason": "not marketing", "gift_reason": "marketing", "invite_reason": "consent on file"}
    client.post(reverse("apologies:policies"), {**form, **reasons})
    policy = CountryPolicy.objects.get(country="DE")
    assert (policy.letter_allowed, policy.gift_allowed, policy.invite_allowed) == (True, False, True)
    assert policy.invite_reason == "consent on file"
    html = client.get(reverse("apologies:policies")).content.decode()
    assert "consent on file" in html and "Apology letter" in html


def test_it_pauses_and_resumes_from_the_page(client, marketer, approver, campaign, django_capture_on_commit_callbacks):
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    with django_capture_on_commit_callbacks(execute=False):
        sending.campaign_start(campaign=campaign, user=marketer)
    client.force_login(approver)
    client.post(reverse("apologies:pause", args=[campaign.id]), {"reason": "a complaint came in"})
    campaign.refresh_from_db()
    assert (campaign.status, campaign.paused_reason) == ("paused", "a complaint came in")
    html = client.get(reverse("apologies:detail", args=[campaign.id])).content.decode()
    assert "a complaint came in" in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("apologies:resume", args=[campaign.id]))
    campaign.refresh_from_db()
    assert campaign.status == "completed"


def test_it_shows_the_plural_forms_a_person_reads_in_their_language(client, marketer, incident):
    person(incident, "fr@example.com", messages=21)
    contact("fr@example.com", country="FR")
    campaign = planning.campaign_create(incident=incident, name="Pardon", author=marketer)
    client.force_login(marketer)
    client.post(reverse("apologies:template_add", args=[campaign.id]), {"language": "FR", "tier": ""})
    recipient = campaign.recipients.get(email="fr@example.com")
    recipient.language = "fr"
    recipient.save(update_fields=["language"])
    html = client.get(reverse("apologies:preview", args=[recipient.id])).content.decode()
    table = html.split("<h3>Plural forms</h3>")[1].split("</table>")[0]
    assert "<td>21 courriels</td>" in table
    assert "21 emails" not in table
