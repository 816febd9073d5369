"""The letters' HTML as WeasyPrint's element tree, read by the standard library's HTML parser.

WeasyPrint reads HTML with tinyhtml5, a pure-Python HTML5 parser: 1.3 ms of a letter's ~26 ms
(bench/letters.py). A letters document is HTML Amends writes itself: its own templates, and marketer HTML
already put through nh3 (html5ever parses it and writes it back whole: every element closed, tables with their
tbody, character references with their semicolon). Such HTML needs none of HTML5's error recovery, and
`html.parser` reads it into the same tree about 5x faster.

Anything HTML5 would read differently (an end tag that closes something else, a block inside a paragraph, a
row outside a table body, text outside the body, a bare & or a reference without its semicolon, a comment, an
element we do not write) raises NotOurs, and WeasyPrint parses that document itself.
apologies/letters/tests/test_html_tree.py compares both trees for the letters the tests render and for marketer
HTML meant to trip the parser.
"""

from __future__ import annotations

import re
from html.entities import html5 as html5_entities
from html.parser import HTMLParser
from xml.etree import ElementTree

import cssselect2
from weasyprint import HTML

VOID = frozenset(("br", "hr", "img", "meta"))
HEAD = frozenset(("meta", "title", "style"))
PHRASING = frozenset(("a", "b", "bdi", "br", "em", "i", "img", "s", "small", "span", "strong", "sub", "sup", "u"))
BLOCKS = frozenset(("blockquote", "div", "h1", "h2", "h3", "h4", "hr", "ol", "p", "section", "table", "ul"))
HEADINGS = frozenset(("h1", "h2", "h3", "h4"))
# Where an element may stand, for those HTML5 moves when they stand elsewhere.
PARENTS = {
    "li": ("ul", "ol"),
    "caption": ("table",),
    "thead": ("table",),
    "tbody": ("table",),
    "tr": ("thead", "tbody"),
    "td": ("tr",),
    "th": ("tr",),
}
TABLE_PARTS = frozenset(("table", "thead", "tbody", "tr"))
BODY = PHRASING | BLOCKS | frozenset(PARENTS)
# A character reference: numeric, or a name with its semicolon (nh3 writes U+00A0 as "&nbsp;"). html.unescape()
# and HTML5 read these alike, in text and in attributes; they differ on names without a semicolon.
REFERENCE = re.compile(r"&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{0,31};)?")


class NotOurs(ValueError):
    """The HTML is not in the shape Amends writes: WeasyPrint's own parser reads it."""


class TreeBuilder(HTMLParser):
    """Elements without namespaces, text and tails as ElementTree holds them (as tinyhtml5 builds them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: ElementTree.Element | None = None
        self.open: list[ElementTree.Element] = []
        self.last: ElementTree.Element | None = None
        self.closed = False  # text after `last` is its tail (True) or inside it (False)
        self.done = False  # </html> was read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parent = self.open[-1].tag if self.open else None
        stack = [e.tag for e in self.open]
        if self.done or not self._allowed(tag, parent, stack):
            raise NotOurs(f"<{tag}> in <{parent}>")
        names = [name for name, _ in attrs]
        if len(set(names)) != len(names):
            raise NotOurs(f"<{tag}> with an attribute twice")
        element = ElementTree.Element(tag, {name: value or "" for name, value in attrs})
        if self.open:
            self.open[-1].append(element)
        else:
            self.root = element
        self.last, self.closed = element, tag in VOID
        if tag not in VOID:
            self.open.append(element)

    @staticmethod
    def _allowed(tag: str, parent: str | None, stack: list[str]) -> bool:
        if parent is None:
            return tag == "html"
        if parent == "html":
            return (tag, stack) == ("head", ["html"]) or tag == "body"
        if parent == "head":
            return tag in HEAD
        if "body" not in stack or tag not in BODY:
            return False
        if tag in PARENTS:
            return parent in PARENTS[tag]
        if parent in TABLE_PARTS:
            return False
        if tag in BLOCKS and "p" in stack:
            return False
        if tag in HEADINGS and parent in HEADINGS:
            return False
        return not (tag == "a" and "a" in stack)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            raise NotOurs(f"<{tag}/> is no empty element")
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1].tag != tag:
            raise NotOurs(f"</{tag}> does not close the element open there")
        self.last, self.closed = self.open.pop(), True
        self.done = tag == "html"

    def handle_data(self, data: str) -> None:
        parent = self.open[-1].tag if self.open else None
        if parent in (None, "html", "head") or (parent in TABLE_PARTS and data.strip()):
            raise NotOurs(f"text in <{parent}>")
        if self.closed:
            self.last.tail = (self.last.tail or "") + data
        else:
            self.last.text = (self.last.text or "") + data

    def handle_decl(self, decl: str) -> None:
        if decl.lower() != "doctype html" or self.root is not None:
            raise NotOurs(f"<!{decl}>")

    def handle_comment(self, data: str) -> None:
        raise NotOurs("a comment")

    def handle_pi(self, data: str) -> None:
        raise NotOurs("a processing instruction")

    def unknown_decl(self, data: str) -> None:
        raise NotOurs("a declaration")


def letters_tree(html: str) -> ElementTree.Element:
    """The document's element tree as tinyhtml5 builds it, or NotOurs."""
    if "\r" in html or "\0" in html:
        raise NotOurs("a carriage return or NUL (HTML5 rewrites them)")
    for reference in REFERENCE.finditer(html):
        name = reference.group(1)
        if name is None or (name[0] != "#" and name not in html5_entities):
            raise NotOurs(f"{reference.group(0)!r}: a bare & or a reference HTML5 reads its own way")
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    if not builder.done or builder.root is None or [child.tag for child in builder.root] != ["head", "body"]:
        raise NotOurs("not one whole document of html, head and body")
    return builder.root


class LettersHTML(HTML):
    """WeasyPrint's HTML document built from `letters_tree`, or parsed by WeasyPrint when the HTML is not ours."""

    def __init__(self, *, string: str, base_url: str, url_fetcher) -> None:
        try:
            root = letters_tree(string)
        except NotOurs:
            super().__init__(string=string, base_url=base_url, url_fetcher=url_fetcher)
            return
        # What HTML.__init__ sets once tinyhtml5 has parsed (WeasyPrint 70, pinned; the tests render both ways).
        self.base_url = base_url
        self.url_fetcher = url_fetcher
        self.media_type = "print"
        self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
        self.etree_element = self.wrapper_element.etree_element
