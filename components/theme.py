"""Page-wide look and the one small script the chat needs (stick to the bottom while streaming)."""

from __future__ import annotations

from nicegui import ui

CSS = """
body { font-size: 15px; }
.thread { max-width: 48rem; margin: 0 auto; width: 100%; padding: 1rem 1rem 2rem; gap: 1.1rem; }
.msg { max-width: 100%; line-height: 1.6; overflow-wrap: anywhere; }
.msg-user-turn { align-self: stretch; display: flex; flex-direction: column; align-items: flex-end; gap: .1rem; }
.msg-user-turn .msg-actions { opacity: .6; }
.msg-user { align-self: flex-end; max-width: 80%; background: #eef2f7; color: #111827;
  border-radius: 1.1rem; padding: .55rem 1rem; }
body.body--dark .msg-user { background: #2b3340; color: #e5e7eb; }
.msg-assistant { align-self: stretch; min-width: 0; overflow-wrap: anywhere; }
.msg-status { font-size: .85rem; opacity: .7; min-height: 0; }
.msg-status:empty { display: none; }
.msg-status.thinking::before { content: ""; display: inline-block; width: .55rem; height: .55rem;
  margin-right: .45rem; border-radius: 50%; background: currentColor; animation: sc-pulse 1s infinite; }
@keyframes sc-pulse { 0%,100% { opacity: .2 } 50% { opacity: 1 } }
.msg-note { font-size: .9rem; border-radius: .5rem; padding: .4rem .7rem; margin-top: .3rem; }
.msg-note:empty { display: none; }
.msg-meta { font-size: .78rem; opacity: .72; margin-top: .2rem; cursor: default; }
.q-header.app-header { background: #ffffff; color: #111827; border-bottom: 1px solid rgba(127,127,127,.2); }
body.body--dark .q-header.app-header { background: #121212; color: #e5e7eb; }
.q-footer.app-footer { background: #ffffff; }
body.body--dark .q-footer.app-footer { background: #121212; }
.msg-note-error { background: #fdecec; color: #8a1c1c; }
.msg-note-info { background: #f1f5f9; color: #334155; }
body.body--dark .msg-note-error { background: #3b1d1d; color: #fecaca; }
body.body--dark .msg-note-info { background: #1f2937; color: #cbd5e1; }
.msg-actions { min-height: 0; opacity: .75; }
.composer { padding: .5rem 1rem 1rem; }
/* A long paste grows the box up to here, then scrolls inside it (Quasar's autogrow honours max-height):
   the box sits in the fixed footer, and without a cap it covered the whole conversation. */
.composer-input { max-height: 40vh; }
.sidebar .conv-item { display: block; width: 100%; padding: .45rem .6rem; border-radius: .4rem;
  color: inherit; text-decoration: none; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.sidebar .conv-item:hover { background: rgba(127,127,127,.12); }
.sidebar .conv-item-active { background: rgba(127,127,127,.2); font-weight: 600; }
.model-chip { font-size: .8rem; }
@media (max-width: 599px) {  /* a phone: the header keeps to two rows; names stay for screen readers */
  .app-header .model-chip .q-btn__content > span, .app-header .q-toggle__label {
    position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
  .app-header .q-btn.q-btn--round { min-width: 2rem; }
}
.steering-line { display: block; max-width: 48rem; width: calc(100% - 2rem); margin: .5rem auto 0; font-size: .8rem;
  opacity: .8; text-align: left; }
.steering-line .q-btn__content { justify-content: flex-start; flex-wrap: nowrap; }
.welcome { margin: 12vh auto 0; text-align: center; max-width: 36rem; opacity: .85; }
"""

# Follows new text only while the reader is already at the bottom; scrolling up stops following.
# A ResizeObserver runs after layout, once per frame in which the page grew: reading the height
# there is free, where a MutationObserver (one call per DOM change) forced a layout every time.
STICK_TO_BOTTOM = """
<script>
(() => {
  let follow = true, height = 0, last = scrollY;
  // Following stops only when the reader moves up, and resumes at the bottom. Deciding it from the
  // distance to the bottom alone lost it under load: by the time our own scrollTo's event arrived the
  // answer had grown again, and the page read that as the reader leaving the bottom.
  // The height is the one the ResizeObserver read after the last layout: reading the live one here
  // forced a layout in every scroll event, and our own scrollTo makes one per frame while text arrives.
  // It is stale when older turns were just put above the one being read and the page scrolled down to
  // keep it in place (components/load_earlier.js): a return to the bottom is confirmed against the live
  // height, once, when following would resume, not in each of our own scrolls.
  addEventListener('scroll', () => {
    if (innerHeight + scrollY >= height - 80) {
      if (!follow) follow = innerHeight + scrollY >= document.body.scrollHeight - 80;
    } else if (scrollY < last) follow = false;
    last = scrollY;
  }, {passive: true});
  new ResizeObserver(() => {
    height = document.body.scrollHeight;
    if (follow) scrollTo(0, height);
  }).observe(document.body);
})();
</script>
"""


def add_theme() -> None:
    ui.add_css(CSS)
    ui.add_body_html(STICK_TO_BOTTOM)
