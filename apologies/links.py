"""Every signed link Amends gives out, made and read here: the sorry page, one-click unsubscribe, reply addresses.

Links are signed with AMENDS_LINK_KEY, not SECRET_KEY: a QR code printed on paper lives for a year, so
its key is long-lived and rotated on its own schedule, with AMENDS_LINK_KEY_FALLBACKS keeping the old
links working. Rotating SECRET_KEY (sessions, CSRF) voids no printed letter and no sent email.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from urllib.parse import urlsplit

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


# How a person reached their page, carried inside the signed token (never in a form field):
# a link or QR code printed in a letter or sent in an email, or a code typed by hand.
VIA_LINK = "link"
VIA_CODE = "code"


def sorry_token(recipient: Recipient, *, via: str = VIA_LINK) -> str:
    # A printed link holds the bare id (short QR codes); a typed code's page holds [id, "c"].
    payload = [recipient.id, "c"] if via == VIA_CODE else recipient.id
    return signing.dumps(payload, salt=SORRY_SALT, compress=True, key=settings.AMENDS_LINK_KEY)


def sorry_token_read(token: str) -> tuple[int, str] | None:
    """(recipient id, how they arrived) from a sorry-page token; None if tampered or expired."""
    try:
        age = timedelta(days=settings.AMENDS_SORRY_LINK_DAYS)
        payload = signing.loads(token, salt=SORRY_SALT, max_age=age, **keys())
    except (signing.BadSignature, TypeError, ValueError):
        return None
    if isinstance(payload, list) and len(payload) == 2 and payload[1] == "c" and isinstance(payload[0], int):
        return payload[0], VIA_CODE
    if isinstance(payload, int) and not isinstance(payload, bool):
        return payload, VIA_LINK
    return None


def sorry_recipient_id(token: str) -> int | None:
    """Whose signed link this is (from a letter, a QR code, an email or a typed code); None if not valid."""
    read = sorry_token_read(token)
    return read[0] if read else None


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


def site_url_problem() -> str:
    """Why links made now would not reach people ("" when they would): checked before letters and sends.

    In development (DEBUG on) the site URL follows the served address, so nothing is refused. In production
    (AMENDS_SITE_URL_CHECK, on where DEBUG is off) a printed QR code cannot be recalled: an unset, plain-http
    or loopback SITE_URL refuses the work.
    """
    if settings.DEBUG or not settings.AMENDS_SITE_URL_CHECK:
        return ""
    url = (settings.SITE_URL or "").strip()
    if not url:
        return (
            "SITE_URL is not set: links in letters and emails would point nowhere. Set it to the public https address."
        )
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"SITE_URL {url} is not https: set it to the public https address people can open."
    host = (parts.hostname or "").lower()
    if not host:
        return f"SITE_URL {url} names no host."
    try:
        loopback = ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    if loopback:
        return f"SITE_URL {url} is a loopback address: nobody outside this machine could open its links."
    return ""


def public_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def resubscribe_url(recipient: Recipient) -> str:
    return public_url(settings.AMENDS_SORRY_PATH + sorry_token(recipient))


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
