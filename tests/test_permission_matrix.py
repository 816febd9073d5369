"""The permission matrix: every URL x role x method, and a new URL without an entry fails.

Each entry says which roles may GET and which may POST a route. A role that may not is answered 403
(or, signed out, sent to the login page); a method a route does not take is 405 for everyone. A role
that may is never answered 403 nor sent to log in (the answer may still be 400, 404 or a redirect:
the request carries no meaningful data). Django's admin keeps its own permissions and is left out;
webhooks are authenticated by their secret, not by a role.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apologies import links
from apologies.campaigns import planning
from apologies.models import CapturedEmail, Delivery, GiftPackage, LetterBatch, Reply
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Import

pytestmark = pytest.mark.django_db

ANON, VIEWER, MARKETER, APPROVER, ADMIN = "anonymous", "viewer", "marketer", "approver", "admin"
ROLES = (ANON, VIEWER, MARKETER, APPROVER, ADMIN)
PUBLIC = set(ROLES)
SIGNED_IN = {VIEWER, MARKETER, APPROVER, ADMIN}
EDIT = {MARKETER, ADMIN}
APPROVE = {APPROVER, ADMIN}
SEND = {MARKETER, APPROVER, ADMIN}
ONLY_ADMIN = {ADMIN}
NOBODY: set[str] = set()


def entry(get: set[str], post: set[str]) -> dict[str, set[str]]:
    return {"GET": get, "POST": post}


MATRIX: dict[str, dict[str, set[str]]] = {
    "home": entry(PUBLIC, NOBODY),
    "login": entry(PUBLIC, PUBLIC),
    "logout": entry(NOBODY, PUBLIC),
    "twofactor:setup": entry(APPROVE, APPROVE),
    "twofactor:verify": entry(SIGNED_IN, SIGNED_IN),
    "twofactor:remove": entry(NOBODY, NOBODY),  # only for someone who has a device and may drop it
    "incidents:list": entry(SIGNED_IN, NOBODY),
    "incidents:create": entry(EDIT, EDIT),
    "incidents:detail": entry(SIGNED_IN, NOBODY),
    "incidents:edit": entry(EDIT, EDIT),
    "incidents:people": entry(SIGNED_IN, NOBODY),
    "incidents:export": entry(SIGNED_IN, NOBODY),
    "incidents:upload": entry(NOBODY, EDIT),
    "incidents:import_detail": entry(SIGNED_IN, NOBODY),
    "incidents:import_mapping": entry(NOBODY, EDIT),
    "incidents:import_progress": entry(SIGNED_IN, NOBODY),
    "incidents:import_discard": entry(NOBODY, EDIT),
    "incidents:contacts": entry(SIGNED_IN, NOBODY),
    "incidents:contact_upload": entry(NOBODY, EDIT),
    "incidents:contact_edit": entry(EDIT, EDIT),
    "incidents:suppressions": entry(SIGNED_IN, NOBODY),
    "incidents:suppression_add": entry(NOBODY, EDIT),
    "incidents:suppression_upload": entry(NOBODY, EDIT),
    "apologies:create": entry(EDIT, EDIT),
    "apologies:detail": entry(SIGNED_IN, NOBODY),
    "apologies:settings": entry(EDIT, EDIT),
    "apologies:replan": entry(NOBODY, EDIT),
    "apologies:submit": entry(NOBODY, EDIT),
    "apologies:approve": entry(NOBODY, APPROVE),
    "apologies:approve_changes": entry(NOBODY, APPROVE),
    "apologies:reject": entry(NOBODY, APPROVE),
    "apologies:cancel": entry(NOBODY, SEND),
    "apologies:templates": entry(SIGNED_IN, NOBODY),
    "apologies:template_add": entry(NOBODY, EDIT),
    "apologies:template_save": entry(NOBODY, EDIT),
    "apologies:template_delete": entry(NOBODY, EDIT),
    "apologies:recipients": entry(SIGNED_IN, NOBODY),
    "apologies:recipients_csv": entry(SIGNED_IN, NOBODY),
    "apologies:preview": entry(SIGNED_IN, NOBODY),
    "apologies:override": entry(NOBODY, EDIT),
    "apologies:policies": entry(SIGNED_IN, EDIT),
    "apologies:progress": entry(SIGNED_IN, NOBODY),
    "apologies:start": entry(NOBODY, SEND),
    "apologies:pause": entry(NOBODY, SEND),
    "apologies:resume": entry(NOBODY, SEND),
    "apologies:test_send": entry(NOBODY, EDIT),
    "apologies:resolve": entry(NOBODY, SEND),
    "apologies:outbox": entry(SIGNED_IN, NOBODY),
    "apologies:outbox_email": entry(SIGNED_IN, NOBODY),
    "apologies:replies": entry(SIGNED_IN, NOBODY),
    "apologies:reply_log": entry(NOBODY, EDIT),
    "apologies:reply_reclassify": entry(NOBODY, EDIT),
    "apologies:replies_unmatched": entry(SIGNED_IN, NOBODY),
    "apologies:reply_detail": entry(SIGNED_IN, NOBODY),
    "apologies:reply_attach": entry(NOBODY, EDIT),
    "apologies:reply_dismiss": entry(NOBODY, EDIT),
    "apologies:reply_restore": entry(NOBODY, EDIT),
    "apologies:results": entry(SIGNED_IN, NOBODY),
    "apologies:results_csv": entry(SIGNED_IN, NOBODY),
    "apologies:incident_results": entry(SIGNED_IN, NOBODY),
    "apologies:letters": entry(SIGNED_IN, NOBODY),
    "apologies:letters_settings": entry(NOBODY, EDIT),
    "apologies:letters_gifts": entry(NOBODY, EDIT),
    "apologies:letters_render": entry(NOBODY, SEND),
    "apologies:letters_progress": entry(SIGNED_IN, NOBODY),
    "apologies:letters_returns": entry(NOBODY, SEND),
    "apologies:batch_zip": entry(NOBODY, SEND),
    "apologies:batch_pdf": entry(SEND, NOBODY),
    "apologies:batch_manifest": entry(SEND, NOBODY),
    "apologies:batch_mailed": entry(NOBODY, SEND),
    "apologies:batch_retry": entry(NOBODY, SEND),
    "apologies:letter_preview": entry(SIGNED_IN, NOBODY),
    "apologies:letter_page": entry(SIGNED_IN, NOBODY),
    "apologies:letter_preview_draw": entry(NOBODY, SEND),
    "apologies:time_zone": entry(SIGNED_IN, SIGNED_IN),
    "apologies:gifts": entry(SIGNED_IN, EDIT),
    "apologies:gift_edit": entry(EDIT, EDIT),
    "apologies:print_profiles": entry(SEND, SEND),
    "apologies:print_profile_edit": entry(SEND, SEND),
    "watch:state": entry(SIGNED_IN, NOBODY),
    "watch:rule_edit": entry(NOBODY, EDIT),
    "watch:esp_switch": entry(NOBODY, EDIT),
    "watch:alert_dismiss": entry(NOBODY, EDIT),
    "auditlog:list": entry(ONLY_ADMIN, NOBODY),
    "privacy:person": entry(ONLY_ADMIN, ONLY_ADMIN),
    "privacy:export": entry(NOBODY, ONLY_ADMIN),
    "privacy:erase": entry(NOBODY, ONLY_ADMIN),
    "brand_css": entry(PUBLIC, NOBODY),
    "unsubscribe": entry(PUBLIC, PUBLIC),
    "sorry": entry(PUBLIC, PUBLIC),
    "sorry_confirm": entry(PUBLIC, PUBLIC),
    "sorry_person": entry(PUBLIC, PUBLIC),
    "sorry_done": entry(PUBLIC, NOBODY),
    "sorry_resend": entry(NOBODY, PUBLIC),
    "sorry_easy": entry(PUBLIC, NOBODY),
    "favicon": entry(PUBLIC, NOBODY),
    "healthz": entry(PUBLIC, NOBODY),
    "healthz_web": entry(PUBLIC, NOBODY),
}
# Methods a public route takes but that need more than a role (a health check that may fail, …).
ANY_ANSWER = {"healthz", "healthz_web"}
# ESP and provider webhooks (the watch's, Lob's, like anymail's) are authenticated by their secret, not by a
# role; the JSON API authenticates tokens, not sessions, and apologies/api/tests checks each endpoint by role.
WEBHOOK_PREFIXES = ("watch:endpoint_", "provider_tracking", "api:")
# Routes whose answer is the login page for everyone (signing out).
LOGIN_IS_THE_ANSWER = {"logout"}


def routes() -> dict[str, URLPattern]:
    """Every named route outside Django's admin and the ESP webhooks, by its namespaced name."""
    found: dict[str, URLPattern] = {}

    def walk(patterns, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.app_name in ("admin", "anymail"):
                    continue
                walk(p.url_patterns, f"{namespace}{p.namespace}:" if p.namespace else namespace)
            elif p.name and not f"{namespace}{p.name}".startswith(WEBHOOK_PREFIXES):
                found[f"{namespace}{p.name}"] = p

    walk(get_resolver().url_patterns, "")
    return found


def test_it_has_an_entry_for_every_url_and_none_for_a_url_that_is_gone():
    names = set(routes())
    assert not names - set(MATRIX), f"add these to the permission matrix: {sorted(names - set(MATRIX))}"
    assert not set(MATRIX) - names, f"these routes are gone: {sorted(set(MATRIX) - names)}"


@pytest.fixture
def users(db) -> dict[str, User | None]:
    made: dict[str, User | None] = {ANON: None}
    for role in (VIEWER, MARKETER, APPROVER):
        user = User.objects.create_user(f"{role}-user", f"{role}@example.org", "pw")
        user.groups.add(Group.objects.get(name=role))
        made[role] = user
    made[ADMIN] = User.objects.create_superuser("admin-user", "admin@example.org", "pw")
    return made


@pytest.fixture
def world(users) -> dict[str, object]:
    """One of everything a URL can name."""
    incident = IncidentFactory(owner=users[MARKETER])
    person(incident, "jane@example.com", state="unsubscribed")
    person(incident, "joe@example.com")
    made_contact = contact("jane@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=users[MARKETER])
    recipient = campaign.recipients.get(email="joe@example.com")
    delivery = Delivery.objects.create(
        campaign=campaign, recipient=recipient, incident=incident, email=recipient.email, channel="email"
    )
    imp = Import.objects.create(incident=incident, kind=Import.Kind.SENDLOG, original_name="log.json")
    email = CapturedEmail.objects.create(to="joe@example.com", from_email="a@b.c", subject="s")
    reply = Reply.objects.create(campaign=campaign, delivery=delivery, from_email="joe@example.com")
    batch = LetterBatch.objects.create(campaign=campaign, number=1)
    package = GiftPackage.objects.create(name="Rose", sku="ROSE-01", unit_cost=1, stock=1)
    return {
        "incident_id": incident.id,
        "fmt": "csv",
        "import_id": imp.id,
        "contact_id": made_contact.id,
        "campaign_id": campaign.id,
        "template_id": campaign.templates.get().id,
        "recipient_id": recipient.id,
        "delivery_id": delivery.id,
        "email_id": email.id,
        "reply_id": reply.id,
        "batch_id": batch.id,
        "package_id": package.id,
        "token": links.sorry_token(recipient),
        "page": 1,
        "rest": "7AYA-B96Q",
        "color": "b3261e",
        "profile_id": 1,
        "kind": "person_burst",
        "alert_id": 1,
    }


def url_for(name: str, pattern: URLPattern, world: dict) -> str:
    wanted = set(pattern.pattern.regex.groupindex)
    return reverse(name, kwargs={k: world[k] for k in wanted})


def answer(client: Client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return client.post(url, {})


def check_route(name: str, pattern: URLPattern, users, world, login_url: str) -> list[str]:
    """What is wrong with one route's answers, for every role and method (empty when it follows its entry)."""
    problems = []
    url = url_for(name, pattern, world)
    for method, allowed in MATRIX[name].items():
        # A read-only page that also answers POST with its GET changes nothing: it is held to its GET roles.
        refused = set(ROLES) - (MATRIX[name]["GET"] if method == "POST" and not allowed else allowed)
        for role in ROLES:
            client = Client(raise_request_exception=False)
            if users[role] is not None:
                client.force_login(users[role])
            response = answer(client, method, url)
            status = response.status_code
            to_login = status == 302 and response.url.startswith(login_url) and name not in LOGIN_IS_THE_ANSWER
            where = f"{method} {url} as {role}: {status}"
            if role in allowed:
                if status == 403 or to_login:
                    problems.append(f"allowed but refused: {where}")
                elif status >= 500 and name not in ANY_ANSWER:
                    problems.append(f"allowed but broke: {where}")
            elif role not in refused:
                if status >= 500:
                    problems.append(f"broke: {where}")
            elif role == ANON and status != 405:
                if not (to_login or status in (401, 403)):
                    problems.append(f"signed out but let in: {where}")
            elif not (status in (403, 405) or (status == 302 and role == ANON)):
                problems.append(f"refused role let in: {where}")
    return problems


def test_it_lets_each_role_do_only_what_its_entry_says(users, world, settings):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    login_url = resolve_url(settings.LOGIN_URL)
    problems = []
    for name, pattern in sorted(routes().items()):
        # Each route from the same starting point: what one POST changed is rolled back before the next.
        with transaction.atomic():
            problems += check_route(name, pattern, users, world, login_url)
            transaction.set_rollback(True)
    assert not problems, "\n".join(problems)


def test_it_refuses_every_staff_post_without_its_csrf_token(users, world, settings):
    """Every form a signed-in person submits carries a CSRF token; the public pages' POSTs are csrf_exempt
    because the signed token in their URL is the proof (wayback), and webhooks are authenticated apart."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(users[ADMIN])
    problems = []
    for name, pattern in sorted(routes().items()):
        if not MATRIX[name]["POST"] - {ANON} or getattr(pattern.callback, "csrf_exempt", False):
            continue
        with transaction.atomic():
            status = client.post(url_for(name, pattern, world), {}).status_code
            transaction.set_rollback(True)
        if status != 403:
            problems.append(f"POST {name} without a CSRF token: {status}")
    assert not problems, "\n".join(problems)
