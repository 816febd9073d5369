"""Planning set-wise on PostgreSQL: every person of an audience planned and written in one INSERT ... SELECT.

The same rules as planning.plan_channel and planning.recipients_plan_python, written in SQL so a million people
never pass through Python (test_planning_sql checks both give the same rows). The caller passes what SQL cannot
know: the country rules, who is erased (a peppered HMAC only privacy computes) and the people planned in Python.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count

from apologies.campaigns.models import CODE_ALPHABET, CODE_LENGTH, Campaign, Recipient
from apologies.privacy.models import ErasedAddress
from apologies.sending.models import Delivery
from incidents.models import AffectedPerson, Contact, Suppression


@dataclass(frozen=True)
class Languages:
    """Each person's language, worked out by campaigns.locales for every (language, country) of the audience's
    contacts (a few dozen pairs), and for people without a contact."""

    by_contact: dict[tuple[str, str], str]
    no_contact: str


@dataclass(frozen=True)
class Rule:
    """A country's rule for people who objected, as planning.Allowed has it (kept apart to avoid an import circle)."""

    letter: bool
    gift: bool
    invite: bool
    reason: str


# A fresh code: 56 random bits of a version 4 UUID (gen_random_uuid draws from the system's CSPRNG, like
# secrets), written as 8 letters of CODE_ALPHABET. The hex digits 18-31 hold no version or variant bits; 2**56
# shares out over 31**8 codes unevenly by one part in 84,000.
FRESH_BITS = "('x' || substr(replace(gen_random_uuid()::text, '-', ''), 18, 14))::bit(56)::bigint"


def fresh_code_sql(bits: str) -> str:
    base = len(CODE_ALPHABET)
    letters = [f"substr(%(alphabet)s, (({bits} / {base**k}) %% {base})::int + 1, 1)" for k in range(CODE_LENGTH)]
    half = CODE_LENGTH // 2
    return " || ".join(letters[:half]) + " || '-' || " + " || ".join(letters[half:])


COLUMNS = (
    "campaign_id, email, contact_id, messages, first_at, last_at, max_in_10_min, state, tier, channel, reason, "
    "detail, invite_allowed, gift, language, short_code"
)


def audience_sql(campaign: Campaign, params: dict) -> str:
    """The WHERE clause of the campaign's audience (ledger rows p), leaving out the people planned in Python."""
    where = ["p.incident_id = %(incident)s", "NOT (p.email = ANY(%(skip)s))"]
    params["incident"] = campaign.incident_id
    if campaign.audience_tiers:
        where.append("p.tier = ANY(%(tiers)s)")
        params["tiers"] = [int(t) for t in campaign.audience_tiers]
    if campaign.audience_states:
        where.append("p.state = ANY(%(states)s)")
        params["states"] = [str(s) for s in campaign.audience_states]
    return " AND ".join(where)


def plan_select(
    campaign: Campaign, policies: dict[str, Rule], no_rule: Rule, erased: set[str], languages: Languages, params: dict
) -> str:
    """SELECT of one recipient row (COLUMNS) per person of the audience, not yet written, short_code NULL if new."""
    C, R = Recipient.Channel, Recipient.Reason
    t = {m.__name__: m._meta.db_table for m in (AffectedPerson, Contact, Suppression, Delivery, Recipient)}
    params.update(
        campaign=campaign.id,
        erased=sorted(erased),
        never_again=Suppression.Reason.NEVER_AGAIN,
        complained=Suppression.Reason.COMPLAINED,
        countries=list(policies),
        p_letter=[p.letter for p in policies.values()],
        p_gift=[p.gift for p in policies.values()],
        p_invite=[p.invite for p in policies.values()],
        p_reason=[p.reason for p in policies.values()],
        no_letter=no_rule.letter,
        no_gift=no_rule.gift,
        no_invite=no_rule.invite,
        no_reason=no_rule.reason,
        gift_tiers=[int(t) for t in campaign.gift_tiers],
        l_language=[language for language, _ in languages.by_contact],
        l_country=[country for _, country in languages.by_contact],
        l_to=list(languages.by_contact.values()),
        no_contact_language=languages.no_contact,
        follow_up=campaign.allow_follow_up,
        e=C.EMAIL,
        l=C.LETTER,
        n=C.NONE,
        subscribed=R.SUBSCRIBED,
        r_already=R.ALREADY,
        r_complained=R.COMPLAINED,
        r_unsubscribed=R.UNSUBSCRIBED,
        r_bounced=R.BOUNCED,
        r_suppressed=R.SUPPRESSED,
    )
    # Step 1, planning.plan_channel: (channel, reason, detail) from the ledger, the contact and the suppressions.
    # Step 2, the country rule: a letter the country does not allow is none; invitation and gift as it allows.
    return f"""
SELECT %(campaign)s AS campaign_id, email, contact_id, messages, first_at, last_at, max_in_10_min, state, tier,
    channel, reason, left(detail, 300) AS detail, channel <> %(n)s AND objected AND rule_invite AS invite_allowed,
    channel = %(l)s AND tier = ANY(%(gift_tiers)s) AND (NOT objected OR rule_gift) AS gift,
    CASE WHEN contact_id IS NULL THEN %(no_contact_language)s ELSE person_language END AS language, kept_code
FROM (
    SELECT s1.*,
        CASE WHEN objected AND channel0 = %(l)s AND NOT rule_letter THEN %(n)s ELSE channel0 END AS channel,
        CASE WHEN objected AND channel0 = %(l)s AND NOT rule_letter THEN
            concat_ws('; ', nullif(detail0, ''),
                'country rule: no letter (' || coalesce(nullif(rule_reason, ''), 'no reason given') || ')')
        ELSE detail0 END AS detail
    FROM (
        SELECT s0.*,
            reason <> %(subscribed)s AS objected,
            CASE
                WHEN already OR (reason <> %(subscribed)s AND NOT coalesce(address_valid, false)) THEN %(n)s
                WHEN reason = %(subscribed)s THEN %(e)s ELSE %(l)s END AS channel0,
            CASE
                WHEN already THEN 'an earlier campaign of this incident apologised already'
                WHEN reason = %(subscribed)s THEN ''
                WHEN address_valid THEN coalesce('suppressed: ' || reasons, '')
                ELSE concat_ws('; ', 'suppressed: ' || reasons,
                    CASE WHEN contact_id IS NULL THEN 'no postal address'
                    ELSE coalesce(nullif(address_problems, ''), 'postal address not valid') END)
            END AS detail0,
            coalesce(pol.p_letter, %(no_letter)s) AS rule_letter,
            coalesce(pol.p_gift, %(no_gift)s) AS rule_gift,
            coalesce(pol.p_invite, %(no_invite)s) AS rule_invite,
            coalesce(pol.p_reason, %(no_reason)s) AS rule_reason,
            lang.l_to AS person_language
        FROM (
            SELECT p.email, p.messages, p.first_at, p.last_at, p.max_in_10_min, p.state, p.tier,
                c.id AS contact_id, c.address_valid, c.address_problems, c.language AS contact_language,
                c.country AS contact_country,
                upper(coalesce(c.country, '')) AS country, sup.reasons, k.short_code AS kept_code,
                already.email IS NOT NULL AS already,
                CASE
                    WHEN already.email IS NOT NULL THEN %(r_already)s
                    WHEN p.state = %(subscribed)s AND NOT p.bounced AND sup.email IS NULL THEN %(subscribed)s
                    WHEN p.state = 'complained' OR coalesce(sup.complained, false) THEN %(r_complained)s
                    WHEN p.state = 'unsubscribed' THEN %(r_unsubscribed)s
                    WHEN p.state = 'bounced' OR p.bounced THEN %(r_bounced)s
                    ELSE %(r_suppressed)s
                END AS reason
            FROM {t["AffectedPerson"]} p
            LEFT JOIN {t["Contact"]} c ON c.email = p.email
            LEFT JOIN (
                SELECT email, string_agg(reason, ', ' ORDER BY reason COLLATE "C") AS reasons,
                    bool_or(reason = %(complained)s) AS complained
                FROM (
                    SELECT email, reason FROM {t["Suppression"]}
                    UNION SELECT unnest(%(erased)s::text[]), %(never_again)s
                ) listed GROUP BY email
            ) sup ON sup.email = p.email
            LEFT JOIN (
                SELECT DISTINCT email FROM {t["Delivery"]}
                WHERE incident_id = %(incident)s AND follow_up = false AND campaign_id <> %(campaign)s
                    AND NOT %(follow_up)s
            ) already ON already.email = p.email
            LEFT JOIN amends_plan_kept k ON k.email = p.email
            WHERE {audience_sql(campaign, params)}
                AND (NOT %(again)s OR NOT EXISTS (SELECT 1 FROM {t["Recipient"]} r
                    WHERE r.campaign_id = %(campaign)s AND r.email = p.email))
        ) s0
        LEFT JOIN unnest(%(countries)s::text[], %(p_letter)s::bool[], %(p_gift)s::bool[], %(p_invite)s::bool[],
            %(p_reason)s::text[]) AS pol(p_country, p_letter, p_gift, p_invite, p_reason) ON pol.p_country = s0.country
        LEFT JOIN unnest(%(l_language)s::text[], %(l_country)s::text[], %(l_to)s::text[])
            AS lang(l_language, l_country, l_to)
            ON lang.l_language = s0.contact_language AND lang.l_country = s0.contact_country
    ) s1
) s2
"""


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys (RFC 2104), so PostgreSQL's sha256() can compute the HMAC."""
    key = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


# An address of printable ASCII only: Unicode normalisation changes nothing in it and lowering is A-Z to a-z,
# so privacy.email_hash can be computed in SQL exactly. Other addresses are left to Python.
PLAIN = "p.email ~ '^[!-~]+$'"
LOWER = "translate(p.email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"


def erased_plain(*, campaign: Campaign, pepper: bytes, domain: str, hashes: bool) -> set[str]:
    """The audience's plain addresses that privacy.erased_among would name: placeholders at `domain` and, with
    `hashes`, those whose HMAC-SHA256(pepper, address) is an erased address's hash."""
    params: dict = {"skip": [], "domain": "@" + domain}
    params["ipad"], params["opad"] = hmac_pads(pepper)
    match = f"right({LOWER}, length(%(domain)s)) = %(domain)s"
    if hashes:
        digest = f"encode(sha256(%(opad)s || sha256(%(ipad)s || convert_to({LOWER}, 'UTF8'))), 'hex')"
        match += f" OR {digest} IN (SELECT email_hash FROM {ErasedAddress._meta.db_table})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.email FROM {AffectedPerson._meta.db_table} p "
            f"WHERE {audience_sql(campaign, params)} AND {PLAIN} AND ({match})",
            params,
        )
        return {row[0] for row in cursor.fetchall()}


def not_plain(*, campaign: Campaign) -> Iterator[str]:
    """The audience's other addresses (few): streamed, for privacy.erased_among."""
    params: dict = {"skip": []}
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT p.email FROM {AffectedPerson._meta.db_table} p WHERE {audience_sql(campaign, params)} "
            f"AND NOT {PLAIN}",
            params,
        )
        while rows := cursor.fetchmany(5000):
            yield from (row[0] for row in rows)


def contact_languages(*, campaign: Campaign) -> list[tuple[str, str]]:
    """The distinct (language, country) of the audience's contacts."""
    params: dict = {"skip": []}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT c.language, c.country FROM {AffectedPerson._meta.db_table} p "
            f"JOIN {Contact._meta.db_table} c ON c.email = p.email WHERE {audience_sql(campaign, params)}",
            params,
        )
        return cursor.fetchall()


def codes_keep(*, campaign: Campaign) -> int:
    """Remember each planned person's code (a letter may carry it) in a temporary table, before a new plan."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS amends_plan_kept")
        cursor.execute(
            "CREATE TEMPORARY TABLE amends_plan_kept ON COMMIT DROP AS SELECT email, short_code "
            f"FROM {Recipient._meta.db_table} WHERE campaign_id = %s AND short_code <> ''",
            [campaign.id],
        )
        kept = cursor.rowcount
        cursor.execute("CREATE UNIQUE INDEX ON amends_plan_kept (email)")
        cursor.execute("ANALYZE amends_plan_kept")
    return kept


def recipients_plan_sql(
    *,
    campaign: Campaign,
    policies: dict[str, Rule],
    no_rule: Rule,
    erased: set[str],
    languages: Languages,
    skip: list[str],
    kept: int,
) -> int:
    """Plan and write every person of the audience but `skip`; returns how many were written.

    People keep the code an earlier plan gave them (written first, so no fresh code can take one). A fresh code
    that meets another (one chance in two at a million people) leaves its person out of the INSERT (ON CONFLICT
    DO NOTHING); the people left out are drawn again until everyone is written.
    """
    params: dict = {"skip": list(skip), "alphabet": CODE_ALPHABET}
    select = plan_select(campaign, policies, no_rule, erased, languages, params)
    insert = (
        f"INSERT INTO {Recipient._meta.db_table} ({COLUMNS}) "
        f"SELECT campaign_id, email, contact_id, messages, first_at, last_at, max_in_10_min, state, tier, channel, "
        f"reason, detail, invite_allowed, gift, language, coalesce(kept_code, {fresh_code_sql('bits')}) "
        f"FROM (SELECT plan.*, {FRESH_BITS} AS bits FROM ({select}) plan "
        "WHERE (kept_code IS NOT NULL) = %(kept)s OFFSET 0) drawn ON CONFLICT (campaign_id, short_code) DO NOTHING"
    )
    with connection.cursor() as cursor:
        count = f"SELECT count(*) FROM {AffectedPerson._meta.db_table} p WHERE {audience_sql(campaign, params)}"
        cursor.execute(count, params)
        wanted = cursor.fetchone()[0]
        written = 0
        if kept:
            cursor.execute(insert, {**params, "kept": True, "again": False})
            written = cursor.rowcount
        for again in range(10):
            # Only a second draw needs to look for the people already written (a million index look-ups).
            cursor.execute(insert, {**params, "kept": False, "again": bool(again)})
            written += cursor.rowcount
            if written >= wanted:
                return written
    raise RuntimeError(f"planned {written} of {wanted} people: codes kept meeting, or the ledger has a duplicate")


def channel_counts(*, campaign: Campaign) -> Counter:
    return Counter(dict(campaign.recipients.values_list("channel").annotate(n=Count("id")).order_by()))
