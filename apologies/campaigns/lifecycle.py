"""A campaign's lifecycle: edits back to draft, templates, submit, second-person approval, reject, cancel."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apologies.campaigns import control, email_html, fingerprint, locales, templating
from apologies.campaigns.audit import audit_add
from apologies.campaigns.brand import brand_for
from apologies.campaigns.models import Campaign, CampaignError, CampaignTemplate, Recipient
from apologies.campaigns.words import default_words
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


def language_words_problems(campaign: Campaign) -> list[str]:
    """Where a variant in another language than the default would quote the incident's words, each named; [] when
    fine. Those words are written once, in the default language: the variant has to say them in its own
    (an incident that says nothing there puts nothing in any language)."""
    default = language_code(campaign.default_language)
    incident = campaign.incident
    problems = []
    for template in campaign.templates.all():
        language = language_code(template.language)
        if not language or language == default:
            continue
        used = set()
        for field in WORD_FIELDS:
            try:
                used |= {p.name for p in templating.placeholders(getattr(template, field))}
            except templating.TemplateError:
                continue  # template_problems names it
        variant = language if template.tier == CampaignTemplate.ANY_TIER else str(template)
        for name, field in INCIDENT_WORDS.items():
            if name in used and getattr(incident, field).strip() and not getattr(template, name).strip():
                problems.append(
                    f"the {variant} words use {{{{ {name} }}}}, written in {default} for the incident: "
                    f"write it in {language} for these words"
                )
    return problems


def letters_problems(campaign: Campaign) -> list[str]:
    """What would stop this campaign's letters from printing once it is approved, each named; [] when fine."""
    if not campaign.recipients.filter(channel=Recipient.Channel.LETTER).exists():
        return []
    ls = LetterSettings.objects.filter(campaign=campaign).first() or LetterSettings.unsaved_default(campaign)
    problem = return_address_problem(ls.return_address)
    return [problem] if problem else []


# What the words must be before they are submitted and approved: each rule with what finds where it is broken.
WORDS_RULES = (
    # US CAN-SPAM and the Gmail/Yahoo bulk-sender rules: a visible unsubscribe link and a postal address.
    ("every email must show an unsubscribe link and a postal address", email_words_problems),
    ("one email or letter never mixes two languages", language_words_problems),
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


def campaign_approval_check(*, campaign: Campaign, user=None, recipients: bool = True) -> list[str]:
    """Compare what reaches people with what was approved; act on a difference and return what changed.

    Submitted or approved: back to draft (the stock it held is released). Sending: paused, since people
    already received the approved words. Other statuses, or nothing changed: []. Every outcome that acts
    leaves an audit entry naming the parts that changed.
    """
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


def campaigns_recheck(*, campaigns) -> int:
    """Run the approval check on each campaign that an approval covers (after a covered row changed)."""
    acted = 0
    live = (Campaign.Status.SUBMITTED, Campaign.Status.APPROVED, Campaign.Status.SENDING)
    for campaign in campaigns.filter(status__in=live).select_related("incident"):
        # Sending campaigns cannot change their recipients; the cheap parts are enough for them.
        if campaign_approval_check(campaign=campaign, recipients=campaign.status != Campaign.Status.SENDING):
            acted += 1
    return acted


def campaign_changes_approve(*, campaign: Campaign, user) -> list[str]:
    """A second person approves what changed in a paused campaign (new words, prices, rules); returns the parts.

    A paused campaign cannot go back to draft (people already have its apology), so the changes are
    approved in place, by an approver who did not write the campaign; resuming is then possible.
    """
    if not user.has_perm("apologies.approve_campaign"):
        raise CampaignError("Only an approver can approve changes.")
    if user.pk == campaign.author_id:
        raise CampaignError("You wrote this campaign: a second person has to approve its changes.")
    if campaign.status != Campaign.Status.PAUSED:
        raise CampaignError("Only the changes of a paused campaign are approved this way.")
    changed = fingerprint.changed_parts(campaign=campaign, recipients=False)
    parts = fingerprint.campaign_fingerprint(campaign=campaign)
    Campaign.objects.filter(id=campaign.id).update(approved_parts=parts, approved_by=user, approved_at=timezone.now())
    campaign.approved_parts = parts
    audit_add(campaign, user, "changes approved", ", ".join(changed) or "nothing had changed")
    return changed
