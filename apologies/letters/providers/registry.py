"""The print-and-mail providers Amends can use, by name (AMENDS_LETTER_PROVIDER): PostGrid or Click2Mail go here."""

from __future__ import annotations

from apologies.letters.providers.base import LetterProvider
from apologies.letters.providers.lob import Lob

PROVIDERS: dict[str, type] = {"lob": Lob}


def provider_for(name: str) -> LetterProvider:
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise ValueError(f"No print-and-mail provider {name!r}; known: {', '.join(PROVIDERS)}") from None
