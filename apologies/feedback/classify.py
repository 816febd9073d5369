"""Reading replies to an apology: strip what was quoted, classify what is left, show HTML safely.

Rules, not a model: marketers can read why a reply got its class, and reclassify it. Phrases cover
English, French, German and Spanish (Dimdim got a French reply). Before any rule is tried the words are
made plain: HTML to text (BeautifulSoup, the clients' quote markers read as a separator), the quoted
original cut (our own separator, header-block, signature and ">" rules, then mail-parser-reply), Unicode
normalised (NFKC, curly quotes and non-breaking spaces made plain), case and accents folded. Typography must
never hide a "never again". A reply the rules cannot place with confidence needs a person; it is never filed
as a thank-you.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
import unicodedata
from dataclasses import dataclass

import nh3
from bs4 import BeautifulSoup
from lingua import Language, LanguageDetectorBuilder
from mailparser_reply import EmailReplyParser

# Where the quoted original starts: "On Mon, Jane wrote:", "Le lun. … a écrit :", "Am … schrieb …:",
# "El … escribió:", the "-----Original Message-----" separators, and "From: " lines.
QUOTE_HEADERS = re.compile(
    r"^\s*(on\b.{0,200}\bwrote:|le\b.{0,200}\ba écrit\s*:|am\b.{0,200}\bschrieb.{0,100}:|el\b.{0,200}\bescribió\s*:"
    r"|-{2,}\s*(original message|message d['’]origine|ursprüngliche nachricht|original-nachricht|mensaje original"
    r"|forwarded message|message transféré|weitergeleitete nachricht|mensaje reenviado)\s*-{2,}"
    r"|(from|de|von)\s*:\s.+)",
    re.IGNORECASE,
)

# One line of the header block Outlook, Gmail and Apple Mail put above a quoted original, in English, French,
# German and Spanish ("De :", "Envoyé :", "Gesendet:", "Betreff:", "Enviado el:" …), in any order, the name
# possibly bold in plain text ("*From:*"). Two such lines in a row (blank lines aside) start the quote.
QUOTE_HEADER_LINE = re.compile(
    r"^\s*[*>]*\s*(from|sent|to|cc|bcc|subject|date|reply-to"
    r"|de|envoyé|envoye|à|a|objet|répondre à"
    r"|von|gesendet|an|betreff|datum|antwort an"
    r"|para|enviado|enviado el|asunto|fecha|responder a)\s*\**\s*:\**(\s|$)",
    re.IGNORECASE,
)

# Outlook's own plain-text separator above a quoted original: what an HTML reply's quote marker is read as.
QUOTE_SEPARATOR = "_" * 32

# Where the quoted original starts in an HTML reply: Outlook (desktop, web), Gmail, Apple Mail, Thunderbird, Yahoo.
HTML_QUOTE_MARKERS = ", ".join(
    [
        "hr#stopSpelling",
        "div#divRplyFwdMsg",
        "div#appendonsend",
        "div.gmail_quote",
        "blockquote.gmail_quote",
        'blockquote[type="cite"]',
        "div.moz-cite-prefix",
        "div.yahoo_quoted",
    ]
)

# Tags that do not break a line: their text joins the text around them ("<b>From:</b> Amends" is one line).
HTML_INLINE = ["a", "abbr", "b", "big", "cite", "code", "em", "font", "i", "small", "span", "strong", "sub", "sup", "u"]


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
            r"\bno harm( done)?\b",
            r"\bnot a problem\b",
            r"\b(ce )?n'est pas grave\b",
            r"\bpas grave\b",
            r"\b(ist )?nicht schlimm\b",
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


# Words that turn a "thank you" into something else ("thanks, but not again", "merci de ne plus …").
NEGATION = re.compile(r"\b(not|no|never|don't|dont|stop|ne|pas|jamais|nicht|kein\w*|nie|nunca|nada)\b")

# Apostrophes and quotes people's keyboards type (iPhones type curly ones by default).
QUOTES = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)
LANGUAGES = {Language.ENGLISH: "en", Language.FRENCH: "fr", Language.GERMAN: "de", Language.SPANISH: "es"}
MIN_LANGUAGE_CONFIDENCE = 0.6


def normalise(text: str) -> str:
    """NFKC, entities decoded, curly quotes and non-breaking spaces made plain."""
    return unicodedata.normalize("NFKC", html_lib.unescape(text or "")).translate(QUOTES).replace("\u00a0", " ")


def fold(text: str) -> str:
    """Lower case without accents, quotes made plain, every run of white space one space: what rules match."""
    text = unicodedata.normalize("NFKD", normalise(text).casefold())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


COMPILED = [(kind, [re.compile(fold(p)) for p in patterns]) for kind, patterns in RULES]


@dataclass(frozen=True)
class Reading:
    kind: str
    why: str
    language: str  # ISO 639-1 of the person's own words, "" when unsure
    own_words: str


def html_to_text(html: str) -> str:
    """The text of an HTML-only reply, one line per block, entities decoded.

    Inline tags do not break lines. Where the mail client marked the quoted original (Outlook's
    hr#stopSpelling, Gmail's div.gmail_quote, Apple's blockquote type=cite …) the text gets Outlook's own
    plain-text separator, so that the quote is cut however its header block is worded.
    """
    soup = BeautifulSoup(html or "", "html.parser")
    for tag in soup.find_all(HTML_INLINE):
        tag.unwrap()
    soup.smooth()
    marker = soup.select_one(HTML_QUOTE_MARKERS)
    if marker is not None:
        marker.insert_before(f"\n\n{QUOTE_SEPARATOR}\n")
    return soup.get_text("\n")


@functools.cache
def reply_parser() -> EmailReplyParser:
    return EmailReplyParser(languages=["en", "fr", "de", "es"])


@functools.cache
def language_detector():
    return LanguageDetectorBuilder.from_languages(*LANGUAGES).build()


def detect_language(text: str) -> str:
    """ "en", "fr", "de" or "es" when the words say so with confidence, else ""."""
    if len(text.strip()) < 3:
        return ""
    best = language_detector().compute_language_confidence_values(text)[0]
    return LANGUAGES[best.language] if best.value >= MIN_LANGUAGE_CONFIDENCE else ""


def own_words(text: str) -> str:
    """What the person wrote: the quoted original and the signature cut, typography made plain."""
    # Our own rules first: the parser drops Outlook's separator line without cutting what follows it.
    plain = strip_quoted(normalise(text).replace("\r\n", "\n"))
    try:
        parsed = reply_parser().parse_reply(text=plain)
    except Exception:  # noqa: BLE001 - a parser bug must not lose a reply; our own rules still cut quotes
        parsed = plain
    return strip_quoted(parsed or plain)


def starts_header_block(lines: list[str], i: int) -> bool:
    """Whether line i opens a quoted original's header block: a header line, the next non-blank line another."""
    if not QUOTE_HEADER_LINE.match(lines[i]):
        return False
    following = next((line for line in lines[i + 1 :] if line.strip()), "")
    return bool(QUOTE_HEADER_LINE.match(following))


def strip_quoted(text: str) -> str:
    """The part the person wrote: no quoted original (its separator or header block), no signature."""
    kept = []
    lines = text.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        if QUOTE_HEADERS.match(line) or SIGNATURE.match(line.strip()) or starts_header_block(lines, i):
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


def classify(*, subject: str, text: str, html: str = "", headers: dict[str, str] | None = None) -> Reading:
    """The first rule that matches what the person wrote, in order of consequence; else "needs_person".

    A thank-you needs nothing else in the words that could turn it (a negation, a question): otherwise
    a person reads it. Auto-replies are recognised from their headers and subject.
    """
    words = own_words(text if text.strip() else html_to_text(html))
    language = detect_language(words)
    if is_auto_reply(subject, headers or {}):
        return Reading("auto_reply", "an automatic reply", language, words)
    folded = fold(words)
    for kind, patterns in COMPILED:
        for pattern in patterns:
            m = pattern.search(folded)
            if not m:
                continue
            if kind == "thanks":
                # What is left once the thank-you idioms ("no worries", "kein Problem") are taken out.
                rest = folded
                for thanks in patterns:
                    rest = thanks.sub(" ", rest)
                if NEGATION.search(rest):
                    return Reading("needs_person", f"said {m.group(0)!r}, but with a negation", language, words)
                question = next((q.search(rest) for q in dict(COMPILED)["question"] if q.search(rest)), None)
                if question:
                    return Reading("question", f"thanked, and asked {question.group(0)!r}", language, words)
            return Reading(kind, f"said {m.group(0)!r}", language, words)
    return Reading("needs_person", "no rule placed it with confidence", language, words)


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
