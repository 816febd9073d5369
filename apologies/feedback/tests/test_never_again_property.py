"""A never-again request is never missed because of typography: quotes, case, accents and spacing vary."""

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from apologies.feedback import classify

# One real way to say it per rule family, in the four languages replies come in.
NEVER_AGAIN = [
    "Please don't email me again.",
    "Do not email me.",
    "Never contact me again.",
    "Unsubscribe me.",
    "Remove me from your list.",
    "Take me off this list.",
    "Stop emailing me.",
    "No more emails please.",
    "Merci de ne plus m'écrire.",
    "Ne m'envoyez plus rien.",
    "Je veux me désinscrire.",
    "Retirez-moi de la liste.",
    "Plus jamais ça.",
    "Arrêtez de m'envoyer des mails.",
    "Bitte abmelden.",
    "Keine E-Mails mehr.",
    "Nie wieder.",
    "Schreiben Sie mir nicht mehr.",
    "Entfernen Sie mich bitte.",
    "Quiero darme de baja.",
    "No me envíen más correos.",
    "No quiero recibir nada más.",
    "Dejen de enviarme cosas.",
    "Nunca más.",
]
APOSTROPHES = ["'", "\u2019", "\u2018", "\u02bc", "`"]
SPACES = [" ", "  ", "\u00a0", "\n", " \u00a0 "]


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@st.composite
def typed(draw) -> str:
    phrase = draw(st.sampled_from(NEVER_AGAIN))
    if draw(st.booleans()):
        phrase = strip_accents(phrase)
    case = draw(st.sampled_from([str.lower, str.upper, str.title, lambda s: s]))
    phrase = case(phrase)
    apostrophe = draw(st.sampled_from(APOSTROPHES))
    phrase = phrase.replace("'", apostrophe)
    words = phrase.split(" ")
    gaps = draw(st.lists(st.sampled_from(SPACES), min_size=len(words) - 1, max_size=len(words) - 1))
    out = words[0]
    for gap, word in zip(gaps, words[1:], strict=True):
        out += gap + word
    return out


@settings(max_examples=400, deadline=None)
@given(typed())
def test_it_never_misses_a_never_again_request_whatever_the_typography(text):
    assert classify.classify(subject="Re: sorry", text=text).kind == "never_again", text
