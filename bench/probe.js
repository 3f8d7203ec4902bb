// Benchmark probe, injected into every page before its own scripts (page.add_init_script).
// Records, in epoch milliseconds (performance.timeOrigin + performance.now()):
//  - samples: [t, n] each time the *visible* text length of the answer first exceeds its maximum,
//    taken in a MutationObserver (so t is the end of the task that changed the DOM);
//  - frames:  [t, n] at each animation frame in which the visible length changed (what gets painted);
//  - ticks:   the time of every animation frame while the answer exists (frame rate);
//  - websocket bytes (UTF-8) and frames received, counted in the page (no CDP round trip).
// "Visible" excludes text the client-side reveal still hides (span.md-rv, visibility: hidden).
(() => {
  const SEL = __SELECTOR__;
  const B = (window.__bench = { samples: [], frames: [], ticks: [], max: -1, el: null, wsBytes: 0, wsFrames: 0 });
  const now = () => performance.timeOrigin + performance.now();
  const enc = new TextEncoder();
  const nonAscii = /[^\x00-\x7f]/;

  const Orig = window.WebSocket;
  window.WebSocket = class extends Orig {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const d = e.data;
        B.wsFrames += 1;
        if (typeof d === "string") B.wsBytes += nonAscii.test(d) ? enc.encode(d).length : d.length;
        else B.wsBytes += d.byteLength || d.size || 0;
      });
    }
  };

  function target() {
    if (B.el && B.el.isConnected) return B.el;
    const all = document.querySelectorAll(SEL);
    B.el = all.length ? all[all.length - 1] : null;
    return B.el;
  }
  function visLen(el) {
    let n = el.textContent.length;
    for (const s of el.querySelectorAll(".md-rv")) n -= s.textContent.length;
    return n;
  }
  B.visText = () => {
    const el = target();
    if (!el) return "";
    const c = el.cloneNode(true);
    c.querySelectorAll(".md-rv").forEach((s) => s.remove());
    return c.textContent;
  };
  B.htmlLen = () => (target() ? target().innerHTML.length : 0);
  B.resetWs = () => {
    B.wsBytes = 0;
    B.wsFrames = 0;
  };

  function onMutation() {
    const el = target();
    if (!el) return;
    const n = visLen(el);
    if (n > B.max) {
      B.max = n;
      B.samples.push([now(), n]);
    }
  }
  let last = -1;
  function frame(ts) {
    const el = target();
    if (el) {
      const t = performance.timeOrigin + ts;
      B.ticks.push(t);
      const n = visLen(el);
      if (n !== last) {
        B.frames.push([t, n]);
        last = n;
      }
    }
    requestAnimationFrame(frame);
  }
  const start = () => {
    new MutationObserver(onMutation).observe(document.body, { subtree: true, childList: true, characterData: true });
    requestAnimationFrame(frame);
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
