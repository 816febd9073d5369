"""Every signed link Amends gives out, made and read here: the sorry page, one-click unsubscribe, reply addresses."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing

from apologies.campaigns.models import Recipient

SORRY_SALT = "amends.sorry"


UNSUBSCRIBE_SALT = "amends.unsubscribe"


REPLY_SALT = "amends.reply"


CONFIRM_SALT = "amends.confirm"


def sorry_token(recipient: Recipient) -> str:
    return signing.dumps(recipient.id, salt=SORRY_SALT, compress=True)


def unsubscribe_token(delivery_id: int) -> str:
    # No ":" in it: it also stands in the local part of the mailto: address.
    return signing.Signer(salt=UNSUBSCRIBE_SALT, sep=".").sign(str(delivery_id))


def delivery_from_unsubscribe_token(token: str) -> int | None:
    try:
        return int(signing.Signer(salt=UNSUBSCRIBE_SALT, sep=".").unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def reply_address(delivery_id: int) -> str:
    signed = signing.Signer(salt=REPLY_SALT, sep=".").sign(str(delivery_id))
    return f"reply+{signed}@{settings.AMENDS_REPLY_DOMAIN}"


def delivery_from_reply_address(address: str) -> int | None:
    local = address.split("@", 1)[0]
    if not local.startswith("reply+"):
        return None
    try:
        return int(signing.Signer(salt=REPLY_SALT, sep=".").unsign(local[len("reply+") :]))
    except (signing.BadSignature, ValueError):
        return None


def public_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def resubscribe_url(recipient: Recipient) -> str:
    return public_url(settings.AMENDS_SORRY_PATH + sorry_token(recipient))


def sorry_recipient_id(token: str) -> int | None:
    """Whose signed link this is (from a letter, a QR code or an email); None if tampered or expired."""
    try:
        return int(signing.loads(token, salt=SORRY_SALT, max_age=timedelta(days=settings.AMENDS_SORRY_LINK_DAYS)))
    except (signing.BadSignature, TypeError, ValueError):
        return None
