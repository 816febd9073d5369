"""A campaign's lifecycle: edits back to draft, templates, submit, second-person approval, reject, cancel."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apologies.campaigns import control, email_html, fingerprint, locales, templating
from apologies.campaigns.audit import audit_add
from apologies.campaigns.brand import brand_for
from apologies.campaigns.models import Campaign, CampaignError, CampaignTemplate, Recipient
from apologies.campaigns.words import default_words, sender_name_for
from apologies.letters import stock
from apologies.letters.models import LetterSettings, return_address_problem
from apologies.sending.models import Delivery
from incidents.contacts.languages import language_code


def campaign_edited(*, campaign: Campaign, user, what: str) -> None:
    """Any change to the words or the audience needs a fresh approval."""
    audit_add(campaign, user, "edited", what)
    if campaign.status in (Campaign.Status.SUBMITTED, Campaign.Status.APPROVED):
        previous = campaign.get_status_display().lower()
        campaign.status = Campaign.Status.DRAFT
        campaign.approved_by = None
        campaign.approved_at = None
        campaign.approved_parts = {}
        campaign.save(update_fields=["status", "approved_by", "approved_at", "approved_parts", "updated"])
        audit_add(campaign, user, "returned to draft", f"was {previous}; edited: {what}")

        stock.stock_release(campaign=campaign, user=user)


def template_problems(template: CampaignTemplate) -> dict[str, list[str]]:
    problems = {}
    for field in ("subject", "text_body", "html_body", "letter_body"):
        found = templating.validate(getattr(template, field))
        if found:
            problems[field] = found
    found = templating.validate(template.invitation, invitation=True)
    if found:
        problems["invitation"] = found
    active = email_html.active_content_problem(template.html_body)
    if active:
        problems.setdefault("html_body", []).append(active)
    return problems


def template_save(*, template: CampaignTemplate, user) -> None:
    problems = template_problems(template)
    if problems:
        raise CampaignError("; ".join(f"{field}: {', '.join(p)}" for field, p in problems.items()))
    template.save()
    campaign_edited(campaign=template.campaign, user=user, what=f"template {template}")


def email_words_problems(campaign: Campaign) -> list[str]:
    """What every email must show and this campaign's email words (or brand) lack, each named; [] when fine."""
    if not campaign.recipients.filter(channel=Recipient.Channel.EMAIL).exists():
        return []
    problems = []
    for template in campaign.templates.all():
        for field, label in (("text_body", "text body"), ("html_body", "HTML body")):
            text = getattr(template, field)
            if field == "html_body" and not text.strip():
                continue
            missing = templating.missing_required(text)
            if missing:
                names = " and ".join("{{ " + name + " }}" for name in missing)
                problems.append(f"the {label} of the {template} words lacks {names}")
    if not brand_for(campaign).postal_address.strip():
        problems.append("there is no postal address: set the campaign's, or AMENDS_POSTAL_ADDRESS for the site")
    return problems


# Every part of a variant that reaches people, and the placeholders whose words the incident gives (in its
# campaign's default language), each to the incident's field; a variant's own field has the placeholder's name.
WORD_FIELDS = ("subject", "text_body", "html_body", "letter_body", "invitation")
INCIDENT_WORDS = {"what_happened": "what_happened", "the_fix": "fix"}


def placeholders_used(template: CampaignTemplate) -> dict[str, list[templating.Placeholder]]:
    """Each placeholder the variant's words use, by name, with every way it is written (fallbacks differ)."""
    used: dict[str, list[templating.Placeholder]] = {}
    for field in WORD_FIELDS:
        try:
            found = templating.placeholders(getattr(template, field))
        except templating.TemplateError:
            continue  # template_problems names it
        for placeholder in found:
            used.setdefault(placeholder.name, []).append(placeholder)
    return used


def variant_name(template: CampaignTemplate) -> str:
    """How a rule names a variant: "fr", "de / tier 0", "default / any tier"."""
    language = language_code(template.language)
    return language if language and template.tier == CampaignTemplate.ANY_TIER else str(template)


# A variant in another language whose words are the default language's, letter for letter, was never translated.
TRANSLATED_FIELDS = {"subject": "subject", "text_body": "text body", "html_body": "HTML body", "letter_body": "letter"}
PLACEHOLDER_OR_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|<[^>]*>", re.S)


def untranslated_fields(template: CampaignTemplate, base: CampaignTemplate | None) -> list[str]:
    """The parts of `template` identical to the default language's `base` that hold words (not only placeholders
    or markup): what a variant in another language still says in the default one."""
    if base is None:
        return []
    same = []
    for field, label in TRANSLATED_FIELDS.items():
        text = getattr(template, field)
        if text.strip() and text == getattr(base, field) and re.search(r"[^\W\d_]", PLACEHOLDER_OR_TAG.sub("", text)):
            same.append(label)
    return same


def language_words_problems(campaign: Campaign) -> list[str]:
    """Where a variant in another language than the default would quote the incident's words, or still says
    its words in the default language, each named; [] when fine. The incident's words are written once, in
    the default language: the variant has to say them in its own (an incident that says nothing there puts
    nothing in any language)."""
    default = language_code(campaign.default_language)
    incident = campaign.incident
    templates = list(campaign.templates.all())
    bases = {t.tier: t for t in templates if language_code(t.language) in ("", default)}
    problems = []
    for template in templates:
        language = language_code(template.language)
        if not language or language == default:
            continue
        used = placeholders_used(template)
        variant = variant_name(template)
        same = untranslated_fields(template, bases.get(template.tier) or bases.get(CampaignTemplate.ANY_TIER))
        if same:
            problems.append(
                f"the {' and '.join(same)} of the {variant} words are the {default} words unchanged: "
                f"write them in {language}, or remove the variant"
            )
        for name, field in INCIDENT_WORDS.items():
            if name in used and getattr(incident, field).strip() and not getattr(template, name).strip():
                problems.append(
                    f"the {variant} words use {{{{ {name} }}}}, written in {default} for the incident: "
                    f"write it in {language} for these words"
                )
    return problems


def where_to_write(place: str, own_field: str, *, own: bool) -> str:
    """Where a blank placeholder's words are written: `place`, and a variant's own field when it has them."""
    return place + (f", or in these words' own “{own_field}, in this language”" if own else "")


def blank_words_problems(campaign: Campaign) -> list[str]:
    """Where a variant quotes a placeholder whose value is blank for everyone who reads it ("What happened: "
    and nothing after), each named with where to write it; [] when fine."""
    default = language_code(campaign.default_language)
    incident = campaign.incident
    brand = brand_for(campaign)
    problems = []
    for template in campaign.templates.all():
        language = language_code(template.language)
        # Only another language's variant has words of its own (the words page's fields "…, in this language").
        own = bool(language) and language != default
        # The value everyone reading these words gets (campaigns.words.values_for), and where to write it.
        values = {
            "incident_title": (incident.title, "the incident's title (on the incident's page)"),
            "what_happened": (
                template.what_happened or incident.what_happened,
                where_to_write("the incident's what happened (on the incident's page)", "What happened", own=own),
            ),
            "the_fix": (
                template.the_fix or incident.fix,
                where_to_write("the incident's fix (on the incident's page)", "The fix", own=own),
            ),
            "sender_name": (
                sender_name_for(campaign, template),
                where_to_write("the campaign's sender name (its settings)", "Sender name", own=own),
            ),
            "brand_name": (brand.name, "the campaign's brand name (its settings), or AMENDS_BRAND_NAME for the site"),
        }
        for name, written in placeholders_used(template).items():
            if name not in values or values[name][0].strip():
                continue
            if all(p.fallback.strip() for p in written):
                continue  # {{ what_happened or "…" }} says something
            problems.append(
                f"the {variant_name(template)} words use {{{{ {name} }}}}, which is blank for everyone: "
                f"write it in {values[name][1]}"
            )
    return problems


def letters_problems(campaign: Campaign) -> list[str]:
    """What would stop this campaign's letters from printing once it is approved, each named; [] when fine."""
    if not campaign.recipients.filter(channel=Recipient.Channel.LETTER).exists():
        return []
    ls = LetterSettings.objects.filter(campaign=campaign).first() or LetterSettings.unsaved_default(campaign)
    problem = return_address_problem(ls.return_address)
    return [problem] if problem else []


def tiers_problems(campaign: Campaign) -> list[str]:
    """Whether the people were planned with other tier bounds than the incident's now (their tier numbers would
    take the new tiers' labels, gifts and variants): one sentence, or [] when every tier agrees."""
    bounds = campaign.incident.tier_bounds
    agrees = Q()
    for tier, low in enumerate(bounds):
        # As Incident.tier_for: below the first bound is tier 0, from each bound up to the next its own tier.
        within = Q(tier=tier) if tier == 0 else Q(tier=tier, messages__gte=low)
        if tier + 1 < len(bounds):
            within &= Q(messages__lt=bounds[tier + 1])
        agrees |= within
    if not campaign.recipients.exclude(agrees).exists():
        return []
    labels = ", ".join(campaign.incident.tier_labels())
    return [f"the people were planned with other tiers than the incident's ({labels}): plan again from the ledger"]


# What the words must be before they are submitted and approved: each rule with what finds where it is broken.
WORDS_RULES = (
    # US CAN-SPAM and the Gmail/Yahoo bulk-sender rules: a visible unsubscribe link and a postal address.
    ("every email must show an unsubscribe link and a postal address", email_words_problems),
    ("one email or letter never mixes two languages", language_words_problems),
    ("no words quote a placeholder that is blank for everyone", blank_words_problems),
)


def words_refuse(campaign: Campaign, refusal: str) -> None:
    """Raise CampaignError for the first rule of WORDS_RULES the campaign breaks, naming every place; `refusal`
    opens the sentence ("Cannot approve")."""
    for rule, problems_of in WORDS_RULES:
        problems = problems_of(campaign)
        if problems:
            raise CampaignError(f"{refusal}: {rule}; " + "; ".join(problems) + ".")


def campaign_submit(*, campaign: Campaign, user) -> None:
    if not campaign.can_become(Campaign.Status.SUBMITTED):
        raise CampaignError(f"A {campaign.get_status_display().lower()} campaign cannot be submitted.")
    for template in campaign.templates.all():
        if template_problems(template):
            raise CampaignError(f"Fix the template {template} first.")
    if not campaign.recipients.exclude(channel=Recipient.Channel.NONE).exists():
        raise CampaignError("Nobody in this audience can be reached: there is nothing to approve.")
    # What approval would refuse is said now, to the marketer who can fix it, not to the approver later.
    words_refuse(campaign, "Cannot submit yet")
    problems = tiers_problems(campaign)
    if problems:
        raise CampaignError("Cannot submit yet: " + " ".join(problems) + ".")
    # Once sending starts the letter settings are locked: a fault found then would hold every letter for good.
    problems = letters_problems(campaign)
    if problems:
        raise CampaignError("Cannot submit yet. " + " ".join(problems))
    # What the approver will see is fixed here: a change before the approval sends it back to draft.
    campaign.approved_parts = fingerprint.campaign_fingerprint(campaign=campaign)
    campaign_transition(campaign, Campaign.Status.SUBMITTED, user, "submitted for approval")


def campaign_approve(*, campaign: Campaign, user) -> None:
    """A second person, in the approver role, approves (or renews a stale approval)."""
    if not user.has_perm("apologies.approve_campaign"):
        raise CampaignError("Only an approver can approve a campaign.")
    if user.pk == campaign.author_id:
        raise CampaignError("You wrote this campaign: a second person has to approve it.")
    if campaign.status not in (Campaign.Status.SUBMITTED, Campaign.Status.APPROVED):
        raise CampaignError(f"A {campaign.get_status_display().lower()} campaign cannot be approved.")
    renew = campaign.status == Campaign.Status.APPROVED
    words_refuse(campaign, "Cannot approve")
    problems = tiers_problems(campaign)
    if problems:
        raise CampaignError("Cannot approve: " + " ".join(problems) + ".")
    problems = letters_problems(campaign)
    if problems:
        raise CampaignError("Cannot approve: its letters could never be printed. " + " ".join(problems))
    changed = fingerprint.changed_parts(campaign=campaign)
    if changed or not campaign.approved_parts:
        what = ", ".join(changed) or "its contents (submitted before approvals covered everything)"
        campaign_edited(campaign=campaign, user=None, what=f"changed since it was submitted: {what}")
        raise CampaignError(f"This campaign changed since it was submitted ({what}): it is back in draft.")

    with transaction.atomic():
        # Gift packages and budget are held by the approval, or it is refused saying by how much.
        stock.stock_reserve(campaign=campaign, user=user)
        campaign.approved_by = user
        campaign.approved_at = timezone.now()
        campaign.approved_parts = fingerprint.campaign_fingerprint(campaign=campaign)
        campaign_transition(campaign, Campaign.Status.APPROVED, user, "approval renewed" if renew else "approved")
        control.control_choose(campaign=campaign, user=user)


def campaign_reject(*, campaign: Campaign, user, reason: str) -> None:
    if not user.has_perm("apologies.approve_campaign"):
        raise CampaignError("Only an approver can send a campaign back.")
    if campaign.status != Campaign.Status.SUBMITTED:
        raise CampaignError("Only a submitted campaign can be sent back.")
    campaign_transition(campaign, Campaign.Status.DRAFT, user, "sent back to draft", reason)


def campaign_transition(campaign: Campaign, status: str, user, action: str, detail: str = "") -> None:
    if not campaign.can_become(status):
        raise CampaignError(
            f"A {campaign.get_status_display().lower()} campaign cannot become {Campaign.Status(status).label.lower()}."
        )
    # Conditional on the status we read, so two people clicking at once cannot both win.
    updated = Campaign.objects.filter(id=campaign.id, status=campaign.status).update(
        status=status,
        approved_by=campaign.approved_by,
        approved_at=campaign.approved_at,
        approved_parts=campaign.approved_parts,
        paused_reason=campaign.paused_reason,
        updated=timezone.now(),
    )
    if updated != 1:
        raise CampaignError("Someone else changed this campaign at the same moment: reload and try again.")
    campaign.status = status
    audit_add(campaign, user, action, detail)


def campaign_cancel(*, campaign: Campaign, user) -> None:
    with transaction.atomic():
        campaign_transition(campaign, Campaign.Status.CANCELLED, user, "cancelled")

        stock.stock_release(campaign=campaign, user=user)
        n = campaign.deliveries.filter(status__in=[Delivery.Status.QUEUED, Delivery.Status.HELD]).update(
            status=Delivery.Status.CANCELLED
        )
        if n:
            audit_add(campaign, user, "cancelled deliveries", f"{n} queued apologies will not be sent")


def campaign_settings_save(*, campaign: Campaign, changed: list[str], user) -> None:
    """Save settings edited in the form (`campaign` holds the new values); any change needs a fresh approval."""
    campaign.save()
    if changed:
        campaign_edited(campaign=campaign, user=user, what=", ".join(changed))


def template_add(*, campaign: Campaign, language: str, tier: int, user) -> CampaignTemplate:
    """A language or tier variant, starting from the default words; the campaign goes back to draft."""
    if not campaign.is_editable:
        raise CampaignError("Sending has started: the campaign can no longer be changed.")
    base = campaign.templates.get(language="", tier=CampaignTemplate.ANY_TIER)
    words = {name: getattr(base, name) for name in ("subject", "text_body", "html_body", "letter_body", "invitation")}
    if language and language != campaign.default_language and language in locales.page_languages():
        # A language of our own: its default words, with every fixed part in it, rather than the base's language.
        words = default_words(language)
    template = CampaignTemplate.objects.create(campaign=campaign, language=language, tier=tier, **words)
    campaign_edited(campaign=campaign, user=user, what=f"variant {template} added")
    return template


def template_delete(*, template: CampaignTemplate, user) -> None:
    """Remove a language or tier variant (never the default words); the campaign goes back to draft."""
    campaign = template.campaign
    if not campaign.is_editable:
        raise CampaignError("Sending has started: the words can no longer be changed.")
    if template.language == "" and template.tier == CampaignTemplate.ANY_TIER:
        raise CampaignError("The default words cannot be removed: every other variant falls back to them.")
    with transaction.atomic():
        # Back to draft first, naming the removal and who removed it (the deletion's re-check then finds a draft).
        campaign_edited(campaign=campaign, user=user, what=f"variant {template} removed")
        template.delete()


def letters_outstanding(campaign: Campaign) -> bool:
    """Does a started campaign still have letters to go out (not yet rendered nor handed to a provider)?"""
    return campaign.deliveries.filter(
        channel=Recipient.Channel.LETTER, status__in=[Delivery.Status.QUEUED, Delivery.Status.HELD]
    ).exists()


def changes_to_approve(campaign: Campaign) -> list[str]:
    """What changed since the approval of a campaign that can no longer go back to draft and still has something
    to send: paused, or completed with letters still to go out. [] otherwise, or when nothing changed."""
    if campaign.status == Campaign.Status.PAUSED or (
        campaign.status == Campaign.Status.COMPLETED and letters_outstanding(campaign)
    ):
        return fingerprint.changed_parts(campaign=campaign, recipients=False)
    return []


HELD = "held for approval"


def campaign_approval_check(*, campaign: Campaign, user=None, recipients: bool = True) -> list[str]:
    """Compare what reaches people with what was approved; act on a difference and return what changed.

    Submitted or approved: back to draft (the stock it held is released). Sending: paused, since people
    already received the approved words. Completed with letters still to go out: they wait (rendering and
    providers refuse a changed campaign) until an approver approves the changes (campaign_changes_approve).
    Other statuses, or nothing changed: []. Every outcome that acts leaves an audit entry naming the parts
    that changed.
    """
    if campaign.status == Campaign.Status.COMPLETED:
        return completed_check(campaign=campaign, user=user)
    if campaign.status not in (
        Campaign.Status.SUBMITTED,
        Campaign.Status.APPROVED,
        Campaign.Status.SENDING,
    ):
        return []
    changed = fingerprint.changed_parts(campaign=campaign, recipients=recipients)
    if not campaign.approved_parts:
        changed = ["its contents (approved before approvals covered everything)"]
    if not changed:
        return []
    what = ", ".join(changed)
    if campaign.status == Campaign.Status.SENDING:
        campaign.paused_reason = f"What was approved changed ({what}): an approver has to look again."
        campaign_transition(campaign, Campaign.Status.PAUSED, user, "paused", campaign.paused_reason)
    else:
        campaign_edited(campaign=campaign, user=user, what=f"changed since approval: {what}")
    return changed


def completed_check(*, campaign: Campaign, user=None) -> list[str]:
    """A completed campaign's letters still to go out wait for the changes' approval: said once in its audit."""
    if not letters_outstanding(campaign):
        return []
    changed = fingerprint.changed_parts(campaign=campaign, recipients=False)
    if not changed:
        return []
    detail = (
        f"What was approved changed ({', '.join(changed)}): its letters still to go out wait until an approver "
        "approves the changes."
    )
    last = campaign.audit.first()
    if last is None or (last.action, last.detail) != (HELD, detail):
        audit_add(campaign, user, HELD, detail)
    return changed


def campaigns_recheck(*, campaigns) -> int:
    """Run the approval check on each campaign that an approval covers (after a covered row changed)."""
    acted = 0
    live = (Campaign.Status.SUBMITTED, Campaign.Status.APPROVED, Campaign.Status.SENDING, Campaign.Status.COMPLETED)
    for campaign in campaigns.filter(status__in=live).select_related("incident"):
        # Started campaigns cannot change their recipients; the cheap parts are enough for them.
        started = campaign.status in (Campaign.Status.SENDING, Campaign.Status.COMPLETED)
        if campaign_approval_check(campaign=campaign, recipients=not started):
            acted += 1
    return acted


def campaign_changes_approve(*, campaign: Campaign, user) -> list[str]:
    """A second person approves what changed in a paused campaign, or in a completed one with letters still to
    go out (new words, prices, rules); returns the parts.

    Such a campaign cannot go back to draft (people already have its apology), so the changes are approved in
    place, by an approver who did not write the campaign; resuming, or rendering its letters, is then possible.
    """
    if not user.has_perm("apologies.approve_campaign"):
        raise CampaignError("Only an approver can approve changes.")
    if user.pk == campaign.author_id:
        raise CampaignError("You wrote this campaign: a second person has to approve its changes.")
    outstanding = campaign.status == Campaign.Status.COMPLETED and letters_outstanding(campaign)
    if campaign.status != Campaign.Status.PAUSED and not outstanding:
        raise CampaignError(
            "Only the changes of a paused campaign, or of a completed one with letters still to go out, are "
            "approved this way."
        )
    changed = fingerprint.changed_parts(campaign=campaign, recipients=False)
    parts = fingerprint.campaign_fingerprint(campaign=campaign)
    Campaign.objects.filter(id=campaign.id).update(approved_parts=parts, approved_by=user, approved_at=timezone.now())
    campaign.approved_parts = parts
    audit_add(campaign, user, "changes approved", ", ".join(changed) or "nothing had changed")
    return changed
