"""Email HTML with active content (scripts, frames, forms, handlers, script links) is refused, each thing named."""

import pytest
from django.urls import reverse

from apologies.campaigns import lifecycle, planning
from apologies.campaigns.email_html import active_content
from apologies.campaigns.models import CampaignError
from apologies.tests.factories import IncidentFactory, person


def test_it_names_each_kind_of_active_content_once():
    html = (
        '<p onclick="x()">Sorry</p><script>alert(1)</script><img src=x onerror="steal()">'
        '<a href=" Java\tScript:alert(1)">a</a><iframe src="https://e.example"></iframe><form><input></form>'
        "<script>again()</script>"
    )
    assert active_content(html) == [
        "the onclick attribute of <p>",
        "<script>",
        "the onerror attribute of <img>",
        "a javascript: link in <a href>",
        "<iframe>",
        "<form>",
        "<input>",
    ]


def test_it_keeps_what_emails_are_made_of():
    html = (
        '<html><head><style>p{color:#333}</style></head><body><table role="presentation" width="600">'
        '<tr><td bgcolor="#fff" style="padding:8px"><a href="{{ unsubscribe_url }}">Unsubscribe</a>'
        '<img src="https://cdn.example/logo.png" alt="Logo"><a href="mailto:help@example.com">help</a>'
        "</td></tr></table></body></html>"
    )
    assert active_content(html) == []


@pytest.mark.django_db
def test_it_refuses_to_save_or_submit_words_with_a_script(marketer, marketer_client):
    incident = IncidentFactory()
    person(incident, "p@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    template = campaign.templates.get()
    response = marketer_client.post(
        reverse("apologies:template_save", args=[template.id]),
        {
            "subject": template.subject,
            "text_body": template.text_body,
            "html_body": template.html_body + "<script>alert(1)</script>",
            "letter_body": template.letter_body,
            "invitation": template.invitation,
        },
    )
    assert response.status_code == 400
    assert "An email cannot carry &lt;script&gt;: remove it." in response.content.decode()
    template.refresh_from_db()
    assert "<script>" not in template.html_body
    # Written some other way (the admin, a shell): the submission refuses it.
    template.html_body += '<img src=x onerror="steal()">'
    template.save()
    with pytest.raises(CampaignError, match="Fix the template"):
        lifecycle.campaign_submit(campaign=campaign, user=marketer)
