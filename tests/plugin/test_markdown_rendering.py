"""Escaped text rendered by cmark-gfm (the engine behind GitHub's Markdown): plain text, nothing else."""

from __future__ import annotations

from html.parser import HTMLParser

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pytest_listingeval.report.escaping import _CONTROL, JOINER, escape_cell, escape_inline

# Characters that mean something to GitHub's Markdown, plus letters, digits and spaces to hold them.
MARKDOWN = "\\`*_~[]()<>!#@&|$-+=.:/ 0123456789abcxyzwhtpsmo\n\t"
TEXT = st.text(alphabet=st.sampled_from(MARKDOWN) | st.characters(codec="utf-8"), max_size=60)
HOSTILE = [
    "~~~python",
    "```js",
    "~~struck~~ and _emphasis_ and *bold*",
    "# heading",
    "- nested list",
    "+ nested list",
    "12. ordered",
    "1) ordered",
    "=== setext",
    "> quote",
    "$x^2$ math",
    "![img](http://evil.example/x.png)",
    "[link](http://evil.example)",
    "<b>html</b><script>alert(1)</script>",
    "http://evil.example www.evil.example someone@evil.example",
    "@octocat fixes #12 and GH-7",
    "&amp; &#x41; &copy;",
    "[^1] footnote",
    "| a | b |",
    "trailing backslash \\",
    "    indented code",
]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _render(markdown: str) -> tuple[list[str], str]:
    reader = _Reader()
    reader.feed(cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE))
    return reader.tags, "".join(reader.text).replace(JOINER, "")


def _plain(raw: str) -> str:
    # The escaper's joiners are taken out of the rendered text, so one in the raw text is too.
    return " ".join(_CONTROL.sub(" ", raw).split()).replace(JOINER, "")


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_text_in_a_list_item_renders_as_itself(raw: str) -> None:
    tags, text = _render(f"- {escape_inline(raw)}\n")
    assert tags == ["ul", "li"], (raw, tags)
    assert text.strip() == _plain(raw)


@given(TEXT)
@settings(max_examples=400, deadline=None)
@example("~~~")
@example("1. x")
@example("\u200d")
def test_any_text_in_a_list_item_or_sentence_is_only_text(raw: str) -> None:
    for markdown, wrapper in ((f"- {escape_inline(raw)}\n", ["ul", "li"]), (f"Seen: {escape_inline(raw)}\n", ["p"])):
        tags, text = _render(markdown)
        assert tags in (wrapper, wrapper[:1]), (raw, markdown, tags)
        assert text.strip().removeprefix("Seen:").strip() == _plain(raw)


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_any_text_in_a_table_cell_stays_in_its_cell(raw: str) -> None:
    tags, _ = _render(f"| field | value |\n|---|---|\n| f | {escape_cell(raw, limit=1000)} |\n")
    assert tags == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"], (raw, tags)
