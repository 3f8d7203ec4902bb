"""Search results in the sidebar, and the page side of opening one.

Each result links to `/c/<id>?m=<message id>`: the page opens the thread at that message, scrolls it into
view and marks it (`reveal`), on a reload too. Snippets come as plain text with the spans that matched;
the text is escaped first and only then wrapped in <mark>, so nothing from a message reaches the page as
HTML. Arrow keys move from the search box through the results; Enter opens one (it is a link).
"""

from __future__ import annotations

import html

from nicegui import ui

from services.search import SearchHit

CSS = """
.sidebar .search-hit { display: block; width: 100%; min-width: 0; padding: .45rem .6rem; border-radius: .4rem;
  color: inherit; text-decoration: none; }
.sidebar .search-hit:hover, .sidebar .search-hit:focus-visible { background: rgba(127,127,127,.14); }
.sidebar .search-hit .hit-title { font-weight: 600; font-size: .9rem; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.sidebar .search-hit .hit-snippet { font-size: .8rem; line-height: 1.35; color: #4b5563; overflow: hidden;
  display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow-wrap: anywhere; }
body.body--dark .sidebar .search-hit .hit-snippet { color: #cbd5e1; }
.sidebar .search-hit mark { background: #fde68a; color: #111827; border-radius: 2px; padding: 0 1px; }
body.body--dark .sidebar .search-hit mark { background: #a16207; color: #ffffff; }
.search-count { font-size: .75rem; font-weight: 600; opacity: .75; padding: .6rem .6rem .2rem; }
.search-target { border-radius: .6rem; animation: sc-found 3s ease-out; }
@keyframes sc-found { 0%, 50% { box-shadow: 0 0 0 3px #f59e0b; background-color: rgba(245,158,11,.16); }
  100% { box-shadow: 0 0 0 3px transparent; } }
"""

# `streamchatReveal(id)`: centre a message and mark it. Markdown is laid out, and images load, after the
# page connects: while that moves the message (for at most 2 s, until the reader scrolls or types),
# it is centred again. The class stays, so the mark can be found; its animation fades out.
SCRIPT = """
<script>
window.streamchatReveal = (id) => {
  const el = document.querySelector(`[data-message-id="${id}"]`);
  if (!el) return false;
  el.classList.add("search-target");
  const centre = () => el.scrollIntoView({block: "center"});
  centre();
  const watch = new ResizeObserver(centre);
  watch.observe(document.body);
  const moves = ["wheel", "touchstart", "keydown"];
  const stop = () => { watch.disconnect(); moves.forEach((t) => removeEventListener(t, stop)); };
  moves.forEach((t) => addEventListener(t, stop, {passive: true}));
  setTimeout(stop, 2000);
  return true;
};
document.addEventListener("keydown", (e) => {
  if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
  const hits = [...document.querySelectorAll(".search-hit")];
  const box = e.target.closest && e.target.closest(".search-box");
  const at = hits.indexOf(e.target);
  if (box && e.key === "ArrowDown" && hits.length) {
    e.preventDefault(); hits[0].focus();
  } else if (at >= 0) {
    e.preventDefault();
    const next = at + (e.key === "ArrowDown" ? 1 : -1);
    if (next >= 0) hits[Math.min(next, hits.length - 1)].focus();
    else document.querySelector(".search-box input")?.focus();
  }
});
</script>
"""


def add_search_assets() -> None:
    """Once per page."""
    ui.add_css(CSS)
    ui.add_body_html(SCRIPT)


def marked(text: str, marks: tuple[tuple[int, int], ...]) -> str:
    """`text` as HTML: escaped, with the spans in <mark>."""
    out: list[str] = []
    at = 0
    for start, end in marks:
        out += [html.escape(text[at:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)


def hit_url(hit: SearchHit) -> str:
    return f"/c/{hit.conversation_id}" + (f"?m={hit.message_id}" if hit.message_id is not None else "")


def show_results(hits: list[SearchHit], query: str) -> None:
    """The results, in the current container, or a sentence saying there are none."""
    count = f"{len(hits)} result{'s' if len(hits) != 1 else ''}" if hits else f"Nothing matches “{query}”."
    ui.label(count).classes("search-count").props("role=status")
    for hit in hits:
        with ui.link(target=hit_url(hit)).classes("search-hit").props("data-testid=search-result"):
            ui.html(marked(hit.title, hit.title_marks), sanitize=False).classes("hit-title")
            if hit.snippet.text:
                who = "You: " if hit.role == "user" else ""
                ui.html(who + marked(hit.snippet.text, hit.snippet.marks), sanitize=False).classes("hit-snippet")


def reveal(message_id: int) -> None:
    """Scroll the page to a message and mark it (the page's elements must be in the browser)."""
    ui.run_javascript(f"streamchatReveal({int(message_id)})")
