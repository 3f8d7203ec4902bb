"""Stylesheet for rendered markdown and Pygments highlighting (served once per page).

Light by default, dark under ``body.body--dark`` (NiceGUI/Quasar's dark-mode class). Pygments
rules are scoped to our code blocks, and its global rules (``pre {…}``, line numbers) are dropped.
"""

from __future__ import annotations

from functools import cache

from pygments.formatters import HtmlFormatter

LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"

_BASE = """
.md-view { line-height: 1.6; overflow-wrap: anywhere; }
.md-view > div > :first-child { margin-top: 0; }
.md-view p, .md-view ul, .md-view ol, .md-view blockquote, .md-view table, .md-view .md-code,
.md-view hr { margin: 0 0 0.75em 0; }
.md-view h1, .md-view h2, .md-view h3, .md-view h4, .md-view h5, .md-view h6 {
  margin: 1em 0 0.5em; line-height: 1.25; font-weight: 600; letter-spacing: normal; }
.md-view h1 { font-size: 1.6em; } .md-view h2 { font-size: 1.35em; } .md-view h3 { font-size: 1.15em; }
.md-view h4, .md-view h5, .md-view h6 { font-size: 1em; }
.md-view ul, .md-view ol { padding-left: 1.6em; }
.md-view ul { list-style: disc; } .md-view ol { list-style: decimal; }
.md-view ul ul { list-style: circle; }
.md-view li > p { margin: 0.25em 0; }
.md-view li + li { margin-top: 0.15em; }
.md-view a { color: #1a66d2; text-decoration: underline; }
.md-view blockquote { padding: 0.1em 1em; border-left: 4px solid #d0d7de; color: #57606a; }
.md-view hr { border: 0; border-top: 1px solid #d0d7de; }
.md-view table { border-collapse: collapse; display: block; overflow-x: auto; max-width: 100%; }
/* Cells break only between words: a wide table scrolls in its box instead of a letter per line. */
.md-view th, .md-view td { border: 1px solid #d0d7de; padding: 0.3em 0.7em; overflow-wrap: normal; }
.md-view th { background: #f3f4f6; font-weight: 600; }
.md-view .md-al-left { text-align: left; } .md-view .md-al-center { text-align: center; }
.md-view .md-al-right { text-align: right; }
.md-view code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
.md-view :not(pre) > code { background: rgba(175, 184, 193, 0.25); padding: 0.1em 0.35em;
  border-radius: 4px; }
.md-view .md-code { border: 1px solid #d0d7de; border-radius: 8px; overflow: hidden; }
.md-view .md-code-head { display: flex; justify-content: space-between; align-items: center;
  padding: 0.2em 0.4em 0.2em 0.8em; font-size: 0.8em; background: #eef1f4; color: #57606a; }
.md-view .md-copy { border: 0; background: transparent; color: inherit; cursor: pointer;
  padding: 0.15em 0.6em; border-radius: 4px; font: inherit; }
.md-view .md-copy:hover { background: rgba(127, 127, 127, 0.2); }
.md-view .md-pre { margin: 0; padding: 0.8em 1em; overflow-x: auto; line-height: 1.45; }
.md-view .md-pre code { background: none; padding: 0; font-size: 0.85em; white-space: pre; }
.md-view .md-img { border: 1px dashed #8c959f; border-radius: 6px; background: transparent;
  color: inherit; padding: 0.2em 0.6em; cursor: pointer; font: inherit; }
.md-view img.md-img-loaded { max-width: 100%; border-radius: 6px; }
.md-view .md-rv { visibility: hidden; }

body.body--dark .md-view a { color: #6cb6ff; }
body.body--dark .md-view blockquote { border-left-color: #444c56; color: #9da7b3; }
body.body--dark .md-view hr { border-top-color: #444c56; }
body.body--dark .md-view th, body.body--dark .md-view td { border-color: #444c56; }
body.body--dark .md-view th { background: #22272e; }
body.body--dark .md-view :not(pre) > code { background: rgba(110, 118, 129, 0.4); }
body.body--dark .md-view .md-code { border-color: #444c56; }
body.body--dark .md-view .md-code-head { background: #22272e; color: #9da7b3; }
"""


def _pygments(style: str, scope: str) -> str:
    defs = HtmlFormatter(style=style).get_style_defs(scope)
    return "\n".join(line for line in defs.splitlines() if line.startswith(scope))


@cache
def markdown_css() -> str:
    """CSS for rendered markdown + Pygments highlighting, light and dark mode."""
    light = _pygments(LIGHT_STYLE, "body:not(.body--dark) .md-view .md-pre")
    dark = _pygments(DARK_STYLE, "body.body--dark .md-view .md-pre")
    return _BASE + light + "\n" + dark + "\n"
