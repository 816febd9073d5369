"""Every letters document the tests lay out is read both ways, and the trees must be the same (html_tree.py)."""

import pytest
import tinyhtml5

from apologies.letters import html_tree


def canonical(element) -> tuple:
    """An element as comparable data: tag, attributes, text, tail and children (comments left out)."""
    children = [canonical(child) for child in element if isinstance(child.tag, str)]
    return (element.tag, sorted(element.attrib.items()), element.text or "", element.tail or "", children)


@pytest.fixture(autouse=True)
def same_tree_as_tinyhtml5(monkeypatch):
    fast = html_tree.letters_tree
    read = {"fast": 0}

    def checked(html: str):
        root = fast(html)  # NotOurs goes to WeasyPrint's own parser, as in production
        assert canonical(root) == canonical(tinyhtml5.parse(html, namespace_html_elements=False))
        read["fast"] += 1
        return root

    monkeypatch.setattr(html_tree, "letters_tree", checked)
    return read
