"""Reading replies to an apology: strip what was quoted, classify what is left, show HTML safely.

Rules, not a model: marketers can read why a reply got its class, and reclassify it. Phrases cover
English, French, German and Spanish (Dimdim got a French reply).
"""

from __future__ import annotations

import re

import nh3

# Where the quoted original starts: "On Mon, Jane wrote:", "Le lun. … a écrit :", "Am … schrieb …:",
# "El … escribió:", Outlook's "-----Original Message-----" and "From: " blocks.
QUOTE_HEADERS = re.compile(
    r"^\s*(on\b.{0,200}\bwrote:|le\b.{0,200}\ba écrit\s*:|am\b.{0,200}\bschrieb.{0,100}:|el\b.{0,200}\bescribió\s*:"
    r"|-{2,}\s*(original message|message d'origine|ursprüngliche nachricht|mensaje original)\s*-{2,}"
    r"|(from|de|von)\s*:\s.+)",
    re.IGNORECASE,
)


SIGNATURE = re.compile(
    r"^(-- ?|__+|sent from my \w+|envoyé de mon \w+|von meinem \w+ gesendet|enviado desde mi \w+)", re.I
)


RULES: list[tuple[str, list[str]]] = [
    (
        "never_again",
        [
            r"\bunsubscribe\b",
            r"\bremove me\b",
            r"\btake me off\b",
            r"\bstop (e-?mailing|sending|contacting)\b",
            r"\bnever (e-?mail|contact|write to) me\b",
            r"\bdo not (e-?mail|contact) me\b",
            r"\bdon'?t (e-?mail|contact) me\b",
            r"\bno more e-?mails?\b",
            r"\bnever again\b",
            r"désinscri",
            r"desinscri",
            r"ne (plus )?m'envoyez plus",
            r"ne plus (recevoir|me contacter|m'écrire)",
            r"\bretirez[- ]moi\b",
            r"\bplus jamais\b",
            r"arrêtez de m'envoyer",
            r"\babmelden\b",
            r"\bausgetragen\b",
            r"\baustragen\b",
            r"keine (e-?mails?|nachrichten) mehr",
            r"\bnie wieder\b",
            r"schreiben sie mir nicht",
            r"\bentfernen sie mich\b",
            r"darme de baja",
            r"darse de baja",
            r"\bdar de baja\b",
            r"no me (envíen|envien|escriban|contacten)",
            r"no quiero recibir",
            r"dejen de (enviar|escribir)",
            r"\bnunca más\b",
        ],
    ),
    (
        "complaint",
        [
            r"\bspam\b",
            r"\bunacceptable\b",
            r"\bridiculous\b",
            r"\bfurious\b",
            r"\bangry\b",
            r"\bharass",
            r"\breport(ing)? you\b",
            r"\bunprofessional\b",
            r"\bterrible\b",
            r"\binacceptable\b",
            r"\bscandaleux\b",
            r"\bharcèlement\b",
            r"\bporter plainte\b",
            r"\bénervé",
            r"\bunverschämt",
            r"\bbeschwerde\b",
            r"\bunzumutbar\b",
            r"\bbelästigung\b",
            r"\bärgerlich\b",
            r"\binaceptable\b",
            r"\bqueja\b",
            r"\bdenuncia",
            r"\bacoso\b",
            r"\bindignante\b",
        ],
    ),
    (
        "thanks",
        [
            r"\bthanks?\b",
            r"\bthank you\b",
            r"\bappreciate",
            r"\bno worries\b",
            r"\bno problem\b",
            r"\bkind of you\b",
            r"\bmerci\b",
            r"\bpas de souci\b",
            r"\bpas de problème\b",
            r"\bdanke\b",
            r"\bvielen dank\b",
            r"\bkein problem\b",
            r"\bgracias\b",
            r"\bno pasa nada\b",
            r"\bsin problema\b",
        ],
    ),
    (
        "question",
        [
            r"\?",
            r"\bhow (do|can|did)\b",
            r"\bwhy\b",
            r"\bcould you\b",
            r"\bcomment\b",
            r"\bpourquoi\b",
            r"\bwie\b",
            r"\bwarum\b",
            r"\bcómo\b",
            r"\bpor qué\b",
        ],
    ),
]


AUTO_SUBJECT = re.compile(
    r"(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|autoreply|abwesenheit|réponse automatique"
    r"|absence|respuesta automática|fuera de la oficina|vacation)",
    re.IGNORECASE,
)


COMPILED = [(kind, [re.compile(p, re.IGNORECASE) for p in patterns]) for kind, patterns in RULES]


def strip_quoted(text: str) -> str:
    """The part the person wrote: no quoted original, no signature."""
    kept = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if QUOTE_HEADERS.match(line) or SIGNATURE.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def is_auto_reply(subject: str, headers: dict[str, str]) -> bool:
    lower = {k.lower(): v for k, v in headers.items()}
    auto = lower.get("auto-submitted", "no").strip().lower()
    if auto and auto != "no":
        return True
    if (
        "x-autoreply" in lower
        or "x-autorespond" in lower
        or lower.get("precedence", "").lower() in ("auto_reply", "bulk")
    ):
        return True
    return bool(AUTO_SUBJECT.search(subject or ""))


def classify(*, subject: str, text: str, headers: dict[str, str] | None = None) -> tuple[str, str]:
    """(kind, why): the first rule that matches what the person wrote, in order of consequence."""
    if is_auto_reply(subject, headers or {}):
        return "auto_reply", "an automatic reply"
    own_words = strip_quoted(text)
    for kind, patterns in COMPILED:
        for pattern in patterns:
            m = pattern.search(own_words)
            if m:
                return kind, f"said {m.group(0)!r}"
    return "other", "no rule matched"


def safe_html(html: str) -> str:
    """Reply HTML for staff eyes: no scripts, no styles, no images (remote ones track the reader)."""
    return nh3.clean(
        html,
        tags={
            "p",
            "br",
            "div",
            "span",
            "b",
            "strong",
            "i",
            "em",
            "u",
            "ul",
            "ol",
            "li",
            "blockquote",
            "a",
            "pre",
            "code",
        },
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
