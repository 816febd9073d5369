"""Tests of the JSON API: tokens, each endpoint with its permission denial, the audit trail and the throttle."""

import gzip

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from apologies.api.models import ApiCall, ApiToken
from apologies.api.tokens import api_token_create, api_token_revoke
from apologies.campaigns import lifecycle, planning
from apologies.tests.factories import IncidentFactory, contact, person
from incidents import sendlogs
from incidents.models import Import, Incident
from incidents.tests.factories import burst, write_ndjson

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def bearer(user) -> dict:
    _token, raw = api_token_create(user=user, name="tests")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


INCIDENT = {
    "title": "Welcome loop",
    "started_at": "2026-11-20T14:00:00Z",
    "ended_at": "2026-11-20T16:00:00Z",
    "workflows": ["wf-bad"],
    "what_happened": "A loop.",
}


def test_it_serves_its_openapi_description(client):
    doc = client.get("/api/openapi.json").json()
    assert doc["info"]["title"] == "Amends API"
    paths = set(doc["paths"])
    assert {"/api/incidents", "/api/incidents/{incident_id}/sendlogs", "/api/campaigns/{campaign_id}"} <= paths
    assert "BearerAuth" in str(doc["components"]["securitySchemes"]) or doc["components"]["securitySchemes"]


def test_it_refuses_calls_without_a_valid_token(client, marketer):
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", HTTP_AUTHORIZATION="Bearer amends_nope").status_code == 401
    token, raw = api_token_create(user=marketer, name="old")
    api_token_revoke(token=token)
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    marketer.is_active = False
    marketer.save()
    assert client.get("/api/me", **bearer(marketer)).status_code == 401


def test_it_keeps_only_the_tokens_hash_and_acts_as_its_user(client, marketer):
    token, raw = api_token_create(user=marketer, name="warehouse")
    assert raw not in {token.key_hash, token.prefix}
    me = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert me == {"username": "maya", "roles": ["marketer"], "token": "warehouse"}


def test_it_creates_a_token_from_the_command_line(marketer, capsys):
    call_command("api_token_create", "maya", "ci")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("amends_")
    assert ApiToken.objects.get().name == "ci"


def test_it_creates_an_incident_for_a_marketer(client, marketer):
    response = client.post("/api/incidents", INCIDENT, content_type="application/json", **bearer(marketer))
    assert response.status_code == 201, response.content
    body = response.json()
    incident = Incident.objects.get(id=body["id"])
    assert (incident.title, incident.owner, incident.workflows) == ("Welcome loop", marketer, ["wf-bad"])
    assert body["affected"] == 0


def test_it_refuses_to_create_an_incident_for_a_viewer(client, viewer):
    response = client.post("/api/incidents", INCIDENT, content_type="application/json", **bearer(viewer))
    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_it_answers_422_for_an_invalid_incident(client, marketer):
    bad = {**INCIDENT, "started_at": "not a date"}
    response = client.post("/api/incidents", bad, content_type="application/json", **bearer(marketer))
    assert response.status_code == 422


def test_it_answers_422_naming_the_field_for_a_nul_character(client, marketer):
    for field, value in (("title", "Loop\x00"), ("workflows", ["wf\x00"])):
        bad = {**INCIDENT, field: value}
        response = client.post("/api/incidents", bad, content_type="application/json", **bearer(marketer))
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"][-1] == field
        assert "contains a NUL character" in error["msg"]
    assert not Incident.objects.exists()


def test_it_answers_422_naming_ended_at_for_a_window_that_ends_before_it_starts(client, marketer):
    # The rule of the browser's form (IncidentForm.clean), in the API's validation shape.
    bad = {**INCIDENT, "started_at": "2026-11-29T10:00:00Z", "ended_at": "2026-11-28T10:00:00Z"}
    response = client.post("/api/incidents", bad, content_type="application/json", **bearer(marketer))
    assert response.status_code == 422, response.content
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "ended_at"
    assert "The window ends before it starts." in error["msg"]
    assert not Incident.objects.exists()


# A time without an offset is taken (with Django's warning) in the default time zone, as before.
@pytest.mark.filterwarnings("ignore:DateTimeField Incident.started_at received a naive datetime:RuntimeWarning")
def test_it_compares_a_window_given_with_and_without_offsets_as_the_database_stores_it(client, marketer, settings):
    settings.TIME_ZONE = "Europe/Paris"
    # 10:30 in Paris is 09:30Z, so this window ends half an hour before it starts.
    bad = {**INCIDENT, "started_at": "2026-11-29T10:00:00Z", "ended_at": "2026-11-29T10:30:00"}
    response = client.post("/api/incidents", bad, content_type="application/json", **bearer(marketer))
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"][-1] == "ended_at"
    fine = {**INCIDENT, "started_at": "2026-11-29T10:00:00", "ended_at": "2026-11-29T10:00:00+01:00"}
    response = client.post("/api/incidents", fine, content_type="application/json", **bearer(marketer))
    assert response.status_code == 201, response.content


def test_it_still_creates_an_incident_whose_window_is_ongoing_or_an_instant(client, marketer):
    for ended_at in (None, INCIDENT["started_at"]):
        body = {**INCIDENT, "ended_at": ended_at}
        response = client.post("/api/incidents", body, content_type="application/json", **bearer(marketer))
        assert response.status_code == 201, response.content
    assert Incident.objects.count() == 2


def test_it_uploads_a_send_log_and_reports_its_progress(
    client, marketer, viewer, tmp_path, django_capture_on_commit_callbacks
):
    incident = IncidentFactory()
    data = gzip.compress(write_ndjson(tmp_path / "l.json", burst("a@example.com", 3)).read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/incidents/{incident.id}/sendlogs",
            {"file": SimpleUploadedFile("events.json.gz", data)},
            **bearer(marketer),
        )
    assert response.status_code == 202, response.content
    import_id = response.json()["id"]
    progress = client.get(f"/api/incidents/imports/{import_id}", **bearer(viewer)).json()
    assert (progress["status"], progress["percent"], progress["imported"]) == ("done", 100, 6)
    ledger = client.get(f"/api/incidents/{incident.id}/ledger", **bearer(viewer)).json()
    assert ledger["count"] == 1
    assert ledger["rows"][0]["email"] == "a@example.com"
    assert ledger["rows"][0]["messages"] == 3


def test_it_refuses_an_upload_from_a_viewer_and_a_file_that_is_no_send_log(client, viewer, marketer):
    incident = IncidentFactory()
    upload = {"file": SimpleUploadedFile("x.json", b'{"hello": "world"}\n')}
    assert client.post(f"/api/incidents/{incident.id}/sendlogs", upload, **bearer(viewer)).status_code == 403
    upload = {"file": SimpleUploadedFile("x.txt", b"this is no send log at all\n")}
    response = client.post(f"/api/incidents/{incident.id}/sendlogs", upload, **bearer(marketer))
    assert response.status_code == 422
    assert not Import.objects.exists()


def test_it_refuses_an_unknown_send_log_format_up_front_listing_the_known_ones(client, marketer, tmp_path):
    incident = IncidentFactory()
    data = write_ndjson(tmp_path / "l.json", burst("a@example.com", 1)).read_bytes()
    upload = {"file": SimpleUploadedFile("events.json", data), "format": "bogus"}
    response = client.post(f"/api/incidents/{incident.id}/sendlogs", upload, **bearer(marketer))
    assert response.status_code == 422, response.content
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "format"
    assert "'bogus'" in error["msg"]
    assert all(f"'{name}'" in error["msg"] for name in ("auto", *sendlogs.FORMATS))
    assert not Import.objects.exists()


@pytest.mark.parametrize("chosen", [None, "", "auto", "sendgrid_json"])
def test_it_takes_a_known_send_log_format_or_detects_it(
    client, marketer, tmp_path, django_capture_on_commit_callbacks, chosen
):
    incident = IncidentFactory()
    data = write_ndjson(tmp_path / "l.json", burst("a@example.com", 2)).read_bytes()
    upload = {"file": SimpleUploadedFile("events.json", data)}
    if chosen is not None:
        upload["format"] = chosen
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/incidents/{incident.id}/sendlogs", upload, **bearer(marketer))
    assert response.status_code == 202, response.content
    imp = Import.objects.get(id=response.json()["id"])
    assert (imp.format, imp.status, imp.imported) == ("sendgrid_json", Import.Status.DONE, 4)


def test_it_pages_the_ledger_and_refuses_someone_without_a_role(client, django_user_model):
    incident = IncidentFactory()
    for i in range(5):
        person(incident, f"p{i}@example.com", messages=10 - i)
    nobody = django_user_model.objects.create_user("nobody", password="pw")
    assert client.get(f"/api/incidents/{incident.id}/ledger", **bearer(nobody)).status_code == 403
    auditor = django_user_model.objects.create_user("aud", password="pw")
    auditor.groups.add(Group.objects.get(name="viewer"))
    page = client.get(f"/api/incidents/{incident.id}/ledger?offset=1&limit=2", **bearer(auditor)).json()
    assert page["count"] == 5
    assert [r["email"] for r in page["rows"]] == ["p1@example.com", "p2@example.com"]
    assert client.get("/api/incidents/999999/ledger", **bearer(auditor)).status_code == 404


def campaign_for(marketer, approver):
    incident = IncidentFactory()
    for i in range(3):
        person(incident, f"p{i}@example.com")
        contact(f"p{i}@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    return campaign


def test_it_reads_campaign_status_and_results(client, marketer, approver, viewer, django_user_model):
    campaign = campaign_for(marketer, approver)
    status = client.get(f"/api/campaigns/{campaign.id}", **bearer(viewer)).json()
    assert (status["status"], status["approved_by"], status["audience"]) == ("approved", "ana", 3)
    assert "queued" in status["progress"]
    listed = client.get(f"/api/campaigns?incident_id={campaign.incident_id}", **bearer(viewer)).json()
    assert [c["id"] for c in listed] == [campaign.id]
    results = client.get(f"/api/campaigns/{campaign.id}/results", **bearer(viewer)).json()
    assert results["audience"] == 3
    incident_results = client.get(f"/api/incidents/{campaign.incident_id}/results", **bearer(viewer)).json()
    assert incident_results["affected"] == 3
    nobody = django_user_model.objects.create_user("nobody", password="pw")
    for url in (f"/api/campaigns/{campaign.id}", f"/api/campaigns/{campaign.id}/results", "/api/campaigns"):
        assert client.get(url, **bearer(nobody)).status_code == 403


def test_it_records_every_call_in_its_audit_trail(client, marketer, viewer):
    headers = bearer(viewer)
    client.get("/api/me", **headers)
    client.post("/api/incidents", INCIDENT, content_type="application/json", **headers)
    client.get("/api/me")
    calls = list(ApiCall.objects.order_by("id").values_list("method", "path", "status", "user__username"))
    assert calls == [
        ("GET", "/api/me", 200, "victor"),
        ("POST", "/api/incidents", 403, "victor"),
        ("GET", "/api/me", 401, None),
    ]
    assert "does not allow" in ApiCall.objects.get(status=403).detail


def test_it_throttles_a_token_past_its_rate(client, marketer, settings):
    headers = bearer(marketer)
    limit = int(settings.AMENDS_API_RATE.split("/")[0])
    codes = [client.get("/api/me", **headers).status_code for _ in range(limit + 1)]
    assert codes[:limit] == [200] * limit
    assert codes[-1] == 429
    assert ApiCall.objects.filter(status=429).count() == 1
