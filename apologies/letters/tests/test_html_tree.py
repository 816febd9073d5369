"""The letters' HTML read by html.parser: the same tree as tinyhtml5's, or left to WeasyPrint."""

import pytest
import tinyhtml5
from weasyprint import HTML

from apologies.letters import html_tree, layout
from apologies.letters.html_tree import LettersHTML, NotOurs
from apologies.tests.letters_factories import letter_campaign, pdf_text

from .conftest import canonical

pytestmark = pytest.mark.django_db

DOCUMENT = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title><style>p {{ }}</style></head><body>{}</body></html>'  # noqa: E501

# Marketer HTML as nh3 leaves it, and some HTML5 would read its own way.
BODIES = [
    "<p>Dear Ana,</p><p>We sent you <strong>25 emails</strong> in ten minutes.</p>",
    "<p>Caf\u00e9 &amp; cr\u00e8me &lt;3 &quot;sorry&quot; &#233; &#x1F339;</p>",
    "<ul><li>one</li><li>two <em>2</em></li></ul><ol><li>a</li></ol>",
    '<table><tbody><tr><td>a</td><td colspan="2">b</td></tr></tbody></table>',
    "<blockquote><p>quoted</p></blockquote><h2>Title</h2><hr><p>x<br>y</p>",
    '<p dir="rtl"><bdi dir="rtl">\u05e9\u05dc\u05d5\u05dd</bdi> <a href="https://example.com/?a=1&amp;b=2">link</a></p>',
    '<p title="caf&eacute;&nbsp;&#8230;">a&nbsp;b &eacute; &hellip; &#128; &#xD800;</p>',
    # HTML5 repairs these; html.parser would not: each goes to tinyhtml5.
    "<table><tr><td>no tbody</td></tr></table>",
    "<p>one<p>two</p>",
    "<p><div>block in a paragraph</div></p>",
    "<b><i>misnested</b></i>",
    "<li>outside a list</li>",
    "<a href='#'>a<a href='#'>b</a></a>",
    "<p>&eacute; &copy &nbsp;</p>",
    "<p>Tom & Jerry</p>",
    "<p>&NotANamedOne;x &notit;</p>",
    '<a href="?a=1&copy=2">a legacy name in an attribute</a>',
    "<p>line\r\nbreak</p>",
    "<!-- a comment --><p>x</p>",
    "<div/>text",
    "<p>x</br></p>",
    "<table>loose text<tbody><tr><td>x</td></tr></tbody></table>",
    "<h1>a<h2>b</h2></h1>",
    "<p>x</p></body><p>after the body</p>",
    "<p title=a title=b>twice</p>",
    "<pre>\nkept?</pre>",
    "<p>\0</p>",
]


@pytest.mark.parametrize("body", BODIES)
def test_it_reads_html_as_tinyhtml5_does_or_leaves_it_to_tinyhtml5(body):
    html = DOCUMENT.format(body)
    try:
        root = html_tree.letters_tree(html)
    except NotOurs:
        return
    assert canonical(root) == canonical(tinyhtml5.parse(html, namespace_html_elements=False))


def test_it_reads_the_ordinary_bodies_itself_and_refuses_the_repaired_ones():
    read = []
    for body in BODIES:
        try:
            html_tree.letters_tree(DOCUMENT.format(body))
            read.append(body)
        except NotOurs:
            pass
    assert read == BODIES[:7]


def test_it_builds_the_document_weasyprint_builds(marketer, approver, same_tree_as_tinyhtml5):
    campaign = letter_campaign(marketer, approver, people={"us@example.com": {"first_name": "Chlo\u00e9"}}, start=False)
    us = campaign.recipients.get(email="us@example.com")
    writer = layout.LetterWriter(campaign)
    lines = layout.window_lines(us.contact, sender_country="US")
    html = writer.document([writer.html(layout.LetterInput(recipient=us, sequence=1, lines=lines))])
    base = layout.static_base_url()

    ours = LettersHTML(string=html, base_url=base, url_fetcher=writer_fetcher())
    theirs = HTML(string=html, base_url=base, url_fetcher=ours.url_fetcher)

    # The letter was read by html.parser (the same tree: the autouse check), and the document carries what
    # WeasyPrint's own constructor sets, with the same values.
    assert same_tree_as_tinyhtml5["fast"] == 1
    assert set(vars(ours)) == set(vars(theirs))
    assert (ours.base_url, ours.media_type) == (theirs.base_url, theirs.media_type)
    assert pdf_text(ours.render().write_pdf()) == pdf_text(theirs.render().write_pdf())


def writer_fetcher():
    return layout.StaticOnlyFetcher()
