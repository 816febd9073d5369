"""Every signed link Amends gives out, made and read here: the sorry page, one-click unsubscribe, reply addresses.

Links are signed with AMENDS_LINK_KEY, not SECRET_KEY: a QR code printed on paper lives for a year, so
its key is long-lived and rotated on its own schedule, with AMENDS_LINK_KEY_FALLBACKS keeping the old
links working. Rotating SECRET_KEY (sessions, CSRF) voids no printed letter and no sent email.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import checks, signing

from apologies.campaigns.models import Recipient

SORRY_SALT = "amends.sorry"
UNSUBSCRIBE_SALT = "amends.unsubscribe"
REPLY_SALT = "amends.reply"
CONFIRM_SALT = "amends.confirm"
CONFIRM_DAYS = 30


def keys() -> dict:
    return {"key": settings.AMENDS_LINK_KEY, "fallback_keys": settings.AMENDS_LINK_KEY_FALLBACKS}


def signer(salt: str) -> signing.Signer:
    # "." rather than ":": these values also stand in the local part of email addresses.
    return signing.Signer(salt=salt, sep=".", **keys())


def sorry_token(recipient: Recipient) -> str:
    return signing.dumps(recipient.id, salt=SORRY_SALT, compress=True, key=settings.AMENDS_LINK_KEY)


def unsubscribe_token(delivery_id: int) -> str:
    return signer(UNSUBSCRIBE_SALT).sign(str(delivery_id))


def delivery_from_unsubscribe_token(token: str) -> int | None:
    try:
        return int(signer(UNSUBSCRIBE_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def reply_address(delivery_id: int) -> str:
    return f"reply+{signer(REPLY_SALT).sign(str(delivery_id))}@{settings.AMENDS_REPLY_DOMAIN}"


def delivery_from_reply_address(address: str) -> int | None:
    local = address.split("@", 1)[0]
    if not local.startswith("reply+"):
        return None
    try:
        return int(signer(REPLY_SALT).unsign(local[len("reply+") :]))
    except (signing.BadSignature, ValueError):
        return None


def confirm_token(consent_id: int) -> str:
    """The double opt-in link's token for one consent (valid CONFIRM_DAYS days)."""
    return signing.dumps(consent_id, salt=CONFIRM_SALT, key=settings.AMENDS_LINK_KEY)


def consent_from_confirm_token(token: str) -> int | None:
    try:
        return int(
            signing.loads(
                token,
                salt=CONFIRM_SALT,
                max_age=timedelta(days=CONFIRM_DAYS),
                key=settings.AMENDS_LINK_KEY,
                fallback_keys=settings.AMENDS_LINK_KEY_FALLBACKS,
            )
        )
    except (signing.BadSignature, TypeError, ValueError):
        return None


def public_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def resubscribe_url(recipient: Recipient) -> str:
    return public_url(settings.AMENDS_SORRY_PATH + sorry_token(recipient))


def sorry_recipient_id(token: str) -> int | None:
    """Whose signed link this is (from a letter, a QR code or an email); None if tampered or expired."""
    try:
        age = timedelta(days=settings.AMENDS_SORRY_LINK_DAYS)
        return int(signing.loads(token, salt=SORRY_SALT, max_age=age, **keys()))
    except (signing.BadSignature, TypeError, ValueError):
        return None


@checks.register(checks.Tags.security, deploy=True)
def link_key_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """In production the link key is its own: otherwise rotating SECRET_KEY voids every printed QR code."""
    if settings.AMENDS_LINK_KEY == settings.SECRET_KEY:
        return [
            checks.Warning(
                "AMENDS_LINK_KEY is not set: links printed on letters and sent in emails are signed with SECRET_KEY,"
                " so rotating SECRET_KEY would void them all.",
                hint="Set AMENDS_LINK_KEY to a long random value of its own and keep it for as long as letters live.",
                id="amends.W001",
            )
        ]
    return []
