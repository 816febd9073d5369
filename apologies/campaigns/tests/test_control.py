"""Tests of the control group: off by default, chosen at approval, recorded, never the complainers, never sent to."""

from decimal import Decimal

import pytest

from apologies.campaigns import control, lifecycle, planning
from apologies.models import ControlMember
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _outbox(settings):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"


def approved(marketer, approver, **fields):
    incident = IncidentFactory()
    for i in range(20):
        person(incident, f"c{i:02d}@example.com", state="complained" if i < 2 else "subscribed")
        contact(f"c{i:02d}@example.com")
    Suppression.objects.create(email="c02@example.com", reason="never_again")
    campaign = planning.campaign_create(incident=incident, name="Measured", author=marketer, **fields)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    return campaign


def test_it_has_no_control_group_by_default(marketer, approver):
    campaign = approved(marketer, approver)
    assert not campaign.control_group
    assert not ControlMember.objects.exists()


def test_it_chooses_the_control_group_at_approval_and_records_it(marketer, approver):
    campaign = approved(marketer, approver, control_group=True, control_percent=Decimal("50"))
    members = set(campaign.control_members.values_list("email", flat=True))
    eligible = control.control_eligible(campaign=campaign).count()
    assert eligible == 17  # 20 less two complainers and one who asked never to be contacted
    assert len(members) == 8
    assert not members & {"c00@example.com", "c01@example.com", "c02@example.com"}
    assert set(campaign.control_members.values_list("chosen_by__username", flat=True)) == {"ana"}
    entry = campaign.audit.get(action="control group chosen")
    assert entry.detail.startswith("8 of 17 eligible people (50%) get no apology")


def test_it_never_sends_to_the_control_group(marketer, approver, django_capture_on_commit_callbacks):
    campaign = approved(marketer, approver, control_group=True, control_percent=Decimal("50"))
    members = set(campaign.control_members.values_list("email", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_start(campaign=campaign, user=marketer)
    delivered = set(campaign.deliveries.values_list("email", flat=True))
    assert delivered and not delivered & members
    assert len(delivered) + len(members) == 20


def test_it_makes_the_control_group_part_of_what_is_approved(marketer, approver):
    campaign = approved(marketer, approver)
    campaign.control_group = True
    lifecycle.campaign_settings_save(campaign=campaign, changed=["control_group"], user=marketer)
    campaign.refresh_from_db()
    assert campaign.status == "draft"
