"""What an email's HTML may not carry: active content (scripts, frames, forms, event handlers, script links).

Mail clients strip or block it, spam filters score it, and some webmail shows it to people as a security
warning; an apology has no use for it. Words with any of it are refused when saved and when submitted, each
thing named, rather than silently rewritten: what the approver reads is what is sent.
"""

from __future__ import annotations

from html.parser import HTMLParser

# Elements that run code, load other documents or take input.
ACTIVE_TAGS = {
    "applet", "base", "button", "embed", "form", "frame", "frameset", "iframe", "input", "object", "script",
    "select", "textarea",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "background", "xlink:href"}
ACTIVE_SCHEMES = ("javascript:", "vbscript:", "data:text/html")


class ActiveContent(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"the {name} attribute of <{tag}>")
            elif name in URL_ATTRIBUTES and value:
                # Browsers ignore spaces and control characters inside a scheme ("java script:").
                squeezed = "".join(ch for ch in value if ch > " ").lower()
                if squeezed.startswith(ACTIVE_SCHEMES):
                    self.found.append(f"a {squeezed.split(':', 1)[0]}: link in <{tag} {name}>")

    handle_startendtag = handle_starttag


def active_content(text: str) -> list[str]:
    """What in this HTML would run or take input, each named once, in the order found ([] when none)."""
    parser = ActiveContent()
    parser.feed(text)
    parser.close()
    return list(dict.fromkeys(parser.found))


def active_content_problem(text: str) -> str:
    """The sentence refusing this HTML ("" when it carries nothing active)."""
    found = active_content(text)
    return ("An email cannot carry " + ", ".join(found) + ": remove it.") if found else ""
