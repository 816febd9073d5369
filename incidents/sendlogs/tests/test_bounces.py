"""One test per row of docs/esp-bounces.md: each ESP's bounce and failure words, and what they mean for us.

Each row: (ESP, the pure function's arguments, our event type, hard = the person is bounced and suppressed, why).
"""

import pytest

from incidents.sendlogs import (
    brevo,
    mailersend,
    mailgun,
    mailjet,
    mandrill,
    postal,
    postmark,
    resend,
    sendgrid,
    ses,
    sparkpost,
)
from incidents.vocabulary import EventType

B, D, R, F = EventType.BOUNCED, EventType.DEFERRED, EventType.REJECTED, EventType.FAILED
C, U, S, A = EventType.COMPLAINED, EventType.UNSUBSCRIBED, EventType.SUBSCRIBED, EventType.AUTORESPONDED

ROWS = [
    # Amazon SES: bounce.bounceType / bounceSubType
    ("ses", ("Undetermined", "Undetermined"), D, False, "SES could not tell: not known to be permanent"),
    ("ses", ("Permanent", "General"), B, True, "permanent bounce: remove the address (SES docs)"),
    ("ses", ("Permanent", "NoEmail"), B, True, "the address does not exist"),
    ("ses", ("Permanent", "Suppressed"), B, True, "on SES's global suppression list after an earlier hard bounce"),
    ("ses", ("Permanent", "OnAccountSuppressionList"), B, True, "on the account's suppression list (bounce)"),
    ("ses", ("Transient", "General"), D, False, "temporary: may succeed later"),
    ("ses", ("Transient", "MailboxFull"), D, False, "mailbox full: temporary"),
    ("ses", ("Transient", "MessageTooLarge"), D, False, "about the message, not the address"),
    ("ses", ("Transient", "ContentRejected"), D, False, "content: about the message"),
    ("ses", ("Transient", "AttachmentRejected"), D, False, "attachment: about the message"),
    # Postmark: Bounce Type (and Inactive)
    ("postmark", ("HardBounce", True), B, True, "hard bounce, address deactivated"),
    ("postmark", ("HardBounce", False), B, True, "hard bounce"),
    ("postmark", ("Transient", False), D, False, "temporary"),
    ("postmark", ("Unsubscribe", False), U, False, "unsubscribe request"),
    ("postmark", ("Subscribe", False), S, False, "subscribe request"),
    ("postmark", ("AutoResponder", False), A, False, "automatic reply: the message arrived"),
    ("postmark", ("AddressChange", False), A, False, "address change notice: a reply"),
    ("postmark", ("DnsError", False), D, False, "temporary DNS error"),
    ("postmark", ("SpamNotification", False), C, False, "delivered, then reported as spam"),
    ("postmark", ("OpenRelayTest", False), A, False, "a relay test, not about the person"),
    ("postmark", ("Unknown", False), D, False, "not known to be permanent"),
    ("postmark", ("Unknown", True), B, True, "Postmark deactivated the address"),
    ("postmark", ("SoftBounce", False), D, False, "soft bounce (case 02)"),
    ("postmark", ("SoftBounce", True), B, True, "Postmark deactivated the address after soft bounces"),
    ("postmark", ("VirusNotification", False), D, False, "the message was flagged: about the message"),
    ("postmark", ("ChallengeVerification", False), A, False, "challenge/response: a reply"),
    ("postmark", ("BadEmailAddress", False), B, True, "the address is not valid"),
    ("postmark", ("SpamComplaint", True), C, False, "spam complaint"),
    ("postmark", ("ManuallyDeactivated", True), R, False, "deactivated by the sender: never sent"),
    ("postmark", ("Unconfirmed", False), R, False, "sender signature not confirmed: never sent"),
    ("postmark", ("Blocked", False), D, False, "blocked by the receiver (reputation or content)"),
    ("postmark", ("Blocked", True), B, True, "Postmark deactivated the address"),
    ("postmark", ("SMTPApiError", False), F, False, "the API call failed: never sent"),
    ("postmark", ("InboundError", False), EventType.UNKNOWN, False, "about inbound mail: not used"),
    ("postmark", ("DMARCPolicy", False), D, False, "the sender's DMARC policy: about the sender"),
    ("postmark", ("TemplateRenderingFailed", False), F, False, "never sent"),
    # SendGrid: bounce "type" (Event Webhook) / bounce_type (activity export)
    ("sendgrid", ("bounce",), B, True, "type bounce: the receiving server refused the address"),
    ("sendgrid", ("blocked",), D, False, "type blocked: IP or content block (case 04)"),
    ("sendgrid", ("expired",), D, False, "gave up retrying: not about the address"),
    ("sendgrid", ("",), B, True, "old payloads without a type were hard bounces"),
    # Mailgun: failed severity / reason / delivery-status code
    ("mailgun", ("temporary", "generic", 452), D, False, "temporary failure: Mailgun retries"),
    ("mailgun", ("permanent", "bounce", 550), B, True, "permanent, on the address"),
    ("mailgun", ("permanent", "hardfail", None), B, True, "permanent, on the address (no MX, bad address)"),
    ("mailgun", ("permanent", "suppress-bounce", 605), R, False, "never sent: on the bounce list (state bounced)"),
    ("mailgun", ("permanent", "suppress-unsubscribe", 607), R, False, "never sent: unsubscribed (case 05)"),
    ("mailgun", ("permanent", "suppress-complaint", 606), R, False, "never sent: complained (case 05)"),
    ("mailgun", ("permanent", "old", None), D, False, "gave up after temporary failures"),
    ("mailgun", ("permanent", "espblock", 554), D, False, "the receiving ESP blocked the sender"),
    ("mailgun", ("permanent", "generic", 554), D, False, "generic refusal without an address code"),
    ("mailgun", ("permanent", "generic", 550), B, True, "generic refusal with 550: the address"),
    # Brevo (Sendinblue): event word
    ("brevo", ("hard_bounce",), B, True, "hard bounce"),
    ("brevo", ("invalid_email",), B, True, "the address is not valid"),
    ("brevo", ("soft_bounce",), D, False, "soft bounce (case 06)"),
    ("brevo", ("deferred",), D, False, "deferred"),
    ("brevo", ("blocked",), R, False, "Brevo did not send it (blocklisted contact)"),
    ("brevo", ("error",), F, False, "Brevo failed to send it"),
    # Mailjet: bounce hard_bounce + error
    ("mailjet", (True, "user unknown"), B, True, "hard, the address does not exist"),
    ("mailjet", (True, "mailbox inactive"), B, True, "hard, the mailbox is closed"),
    ("mailjet", (True, "invalid domain"), B, True, "hard, the domain does not exist"),
    ("mailjet", (True, "no mail host"), B, True, "hard, the domain takes no mail"),
    ("mailjet", (False, "quota exceeded"), D, False, "mailbox full"),
    ("mailjet", (False, "greylisted"), D, False, "greylisting: retried"),
    ("mailjet", (True, "relay/access denied"), D, False, "the receiver refused the sender"),
    ("mailjet", (True, "sender blocked"), D, False, "spam/policy block: about the sender"),
    ("mailjet", (True, "content blocked"), D, False, "about the content"),
    ("mailjet", (False, "timeout"), D, False, "temporary"),
    # SparkPost: bounce_class
    *[
        ("sparkpost", (code,), event, hard, why)
        for code, event, hard, why in [
            ("1", D, False, "Undetermined"),
            ("10", B, True, "Invalid Recipient (Hard)"),
            ("20", D, False, "Soft Bounce"),
            ("21", D, False, "DNS Failure (Soft)"),
            ("22", D, False, "Mailbox Full (Soft)"),
            ("23", D, False, "Too Large (Soft)"),
            ("24", D, False, "Timeout (Soft)"),
            ("25", R, False, "Admin Failure: SparkPost's policy, never sent"),
            ("26", R, False, "Smart Send suppression: never sent"),
            ("30", B, True, "Generic Bounce: No RCPT (Hard)"),
            ("40", D, False, "Generic Bounce (Soft)"),
            ("50", D, False, "Mail Block (Block)"),
            ("51", D, False, "Spam Block (Block)"),
            ("52", D, False, "Spam Content (Block)"),
            ("53", D, False, "Prohibited Attachment (Block)"),
            ("54", D, False, "Relaying Denied (Block)"),
            ("60", A, False, "Auto-Reply"),
            ("70", D, False, "Transient Failure"),
            ("80", S, False, "Subscribe"),
            ("90", U, False, "Unsubscribe"),
            ("100", A, False, "Challenge-Response"),
        ]
    ],
    # Mandrill: event + msg.bounce_description
    ("mandrill", ("hard_bounce", "bad_mailbox"), B, True, "the mailbox does not exist"),
    ("mandrill", ("hard_bounce", "invalid_domain"), B, True, "the domain does not exist"),
    ("mandrill", ("hard_bounce", "mailbox_full"), D, False, "mailbox full"),
    ("mandrill", ("hard_bounce", "general"), D, False, "not known to be about the address"),
    ("mandrill", ("hard_bounce", "spam_related"), D, False, "spam block: about the message"),
    ("mandrill", ("hard_bounce", "policy_related"), D, False, "policy block: about the sender"),
    ("mandrill", ("hard_bounce", "unknown"), D, False, "Mandrill could not tell: not known to be the address"),
    ("mandrill", ("hard_bounce", ""), B, True, "a hard bounce with no description"),
    ("mandrill", ("soft_bounce", "mailbox_full"), D, False, "soft bounce"),
    # Resend: data.bounce (SES's type/subType, else its message)
    ("resend", ({"type": "Permanent", "subType": "General"},), B, True, "SES permanent"),
    ("resend", ({"type": "Transient", "subType": "MailboxFull"},), D, False, "SES transient"),
    ("resend", ({"message": "The recipient's email provider sent a hard bounce message"},), B, True, "hard"),
    ("resend", ({"message": "Resend has suppressed sending to this address"},), R, False, "never sent"),
    ("resend", ({"message": "The recipient's email provider sent a general bounce message."},), D, False, "general"),
    # MailerSend: activity type
    ("mailersend", ("hard_bounced",), B, True, "hard bounce"),
    ("mailersend", ("soft_bounced",), D, False, "soft bounce"),
    # Postal: status + the receiving server's reply
    ("postal", ("SoftFail", "452 4.2.2 Mailbox full"), D, False, "temporary failure"),
    ("postal", ("HardFail", "550 5.1.1 User unknown"), B, True, "permanent, the address"),
    ("postal", ("HardFail", "554 5.7.1 blocked using Spamhaus"), D, False, "permanent, but a block"),
    ("postal", ("MessageBounced", "550 5.1.1 does not exist"), B, True, "bounce message about the address"),
]

MODULES = {
    "ses": ses,
    "postmark": postmark,
    "sendgrid": sendgrid,
    "mailgun": mailgun,
    "brevo": brevo,
    "mailjet": mailjet,
    "sparkpost": sparkpost,
    "mandrill": mandrill,
    "resend": resend,
    "mailersend": mailersend,
    "postal": postal,
}


@pytest.mark.parametrize(("esp", "args", "event", "hard", "why"), ROWS, ids=[f"{r[0]}-{r[1]}" for r in ROWS])
def test_it_classifies_each_bounce_word_as_the_docs_table_says(esp, args, event, hard, why) -> None:
    assert MODULES[esp].bounce_class(*args) == (event, hard), why


@pytest.mark.parametrize(
    ("reason", "state"),
    [("suppress-bounce", B), ("suppress-unsubscribe", U), ("suppress-complaint", C), ("bounce", None)],
)
def test_it_gives_the_persons_state_of_a_mailgun_suppression(reason, state) -> None:
    assert mailgun.failure_class("permanent", reason)[2] == state


def test_it_checks_that_every_documented_type_of_each_table_has_a_row() -> None:
    for esp, module in MODULES.items():
        for key in getattr(module, "BOUNCES", {}):
            words = key if isinstance(key, tuple) else (key,)
            assert any(e == esp and all(w in args for w in words) for e, args, *_ in ROWS), (esp, key)
