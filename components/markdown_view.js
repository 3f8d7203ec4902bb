// MarkdownView: applies server-side markdown patches (wire format: services/markdown/patch.py).
//
// State is two HTML strings: committed blocks (append-only, in `done`) and the open tail (in
// `tail`, rebuilt from its string on every patch). Every patch is numbered (`n`) so that a patch
// already contained in the props we loaded is skipped and a missing one triggers a resync.
// All HTML is sanitized on the server; this file never builds HTML from text it did not get so.

async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (e) {
    // denied (headless, no focus, permissions): fall through to the textarea trick
  }
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.top = "-1000px";
  ta.style.opacity = "0";
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (e) {
    ok = false;
  }
  ta.remove();
  return ok;
}

function safeImageUrl(src) {
  if (!/^https?:\/\//i.test(src || "")) return null;
  try {
    const url = new URL(src);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

function fragment(html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html;
  return tpl.content;
}

function sameAttributes(a, b) {
  if (a.attributes.length !== b.attributes.length) return false;
  for (const { name, value } of a.attributes) if (b.getAttribute(name) !== value) return false;
  return true;
}

// Make `el`'s children equal to `ref`'s, changing only what differs. Rebuilding the open block
// with innerHTML on every patch dropped any selection in it and made the browser lay it out anew;
// here unchanged nodes stay, and text that only grew is appended to (a selection in it survives).
function morph(el, ref) {
  const want = Array.from(ref.childNodes);
  want.forEach((n, i) => {
    const o = el.childNodes[i];
    if (!o) el.appendChild(n);
    else if (o.nodeType !== n.nodeType || o.nodeName !== n.nodeName) el.replaceChild(n, o);
    else if (o.nodeType === 3 || o.nodeType === 8) {
      if (o.data === n.data) return;
      if (n.data.startsWith(o.data)) o.appendData(n.data.slice(o.data.length));
      else o.data = n.data;
    } else if (o.nodeType !== 1 || !sameAttributes(o, n)) el.replaceChild(n, o);
    else morph(o, n);
  });
  while (el.childNodes.length > want.length) el.removeChild(el.lastChild);
}

export default {
  template: `<div class="md-view"><div ref="done"></div><div ref="tail"></div></div>`,
  props: {
    html: { type: String, default: "" },
    tail: { type: String, default: "" },
    seq: { type: Number, default: 0 },
    epoch: { type: Number, default: 0 },
    final: { type: Boolean, default: false },
    reveal: { type: Boolean, default: true },
    revealMs: { type: Number, default: 50 },
  },
  created() {
    // plain object on purpose: none of this needs Vue reactivity
    this.s = { seq: -1, tail: "", loaded: new Set(), pending: [], raf: 0, resyncing: false };
  },
  mounted() {
    this.load();
    this.$el.addEventListener("click", (e) => this.onClick(e));
  },
  beforeUnmount() {
    cancelAnimationFrame(this.s.raf);
  },
  watch: {
    // the server bumps `epoch` when it re-sends the full state on purpose (reset, resync)
    epoch() {
      this.load();
    },
  },
  methods: {
    load() {
      this.finishReveal();
      this.$refs.done.innerHTML = this.html || "";
      this.s.tail = this.tail || "";
      this.$refs.tail.innerHTML = this.s.tail;
      this.s.seq = this.seq || 0;
      this.s.resyncing = false;
      this.markFinal(this.final);
      this.restoreImages(this.$el);
    },
    apply(p) {
      const s = this.s;
      if (p.n <= s.seq) return; // already part of the props we loaded
      if (p.n !== s.seq + 1 || s.resyncing) {
        // a patch went missing: ask once for the full state and ignore patches until it comes
        if (!s.resyncing) this.$emit("resync");
        s.resyncing = true;
        return;
      }
      s.seq = p.n;
      this.finishReveal();
      const done = this.$refs.done;
      const tailEl = this.$refs.tail;
      const before = tailEl.textContent.length;
      if (p.r) {
        done.innerHTML = "";
        s.tail = "";
      }
      let added = [];
      let html = "";
      if (p.m && p.m === s.tail.length) {
        // the whole open block is finished: move its nodes (a selection in it survives)
        tailEl.normalize();
        added = Array.from(tailEl.childNodes);
        done.append(...added);
        s.tail = "";
      } else if (p.m) {
        html = s.tail.slice(0, p.m);
        s.tail = s.tail.slice(p.m);
      }
      if (p.c) html += p.c;
      if (html) {
        const content = fragment(html);
        const parsed = Array.from(content.childNodes);
        done.appendChild(content);
        parsed.forEach((node) => node.nodeType === 1 && this.restoreImages(node));
        added = added.concat(parsed);
      }
      if (p.t) {
        const [at, del, ins] = p.t;
        s.tail = s.tail.slice(0, at) + ins + s.tail.slice(at + del);
      }
      if (html || p.t || p.m || p.r) {
        tailEl.normalize(); // the reveal split text nodes; merge them so they line up with the parse
        morph(tailEl, fragment(s.tail));
        this.restoreImages(tailEl);
      }
      if (this.reveal && !p.r) this.startReveal([...added, tailEl], before);
      if (p.f) this.markFinal(true);
    },
    // `data-final`: the exact final render is on screen (rendering runs after the status changes)
    markFinal(final) {
      this.$el.toggleAttribute("data-final", !!final);
    },

    // --- progressive reveal: show newly arrived text over <= revealMs, never lagging more ---
    startReveal(roots, skip) {
      const pending = [];
      let seen = 0;
      for (const root of roots) {
        const nodes = [];
        if (root.nodeType === 3) nodes.push(root);
        else if (root.nodeType === 1) {
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
        }
        for (const node of nodes) {
          const len = node.data.length;
          if (seen + len <= skip || !node.data.trim()) {
            seen += len;
            continue;
          }
          const off = Math.max(0, skip - seen);
          seen += len;
          const hid = off > 0 ? node.splitText(off) : node;
          const vis = off > 0 ? node : document.createTextNode("");
          const span = document.createElement("span");
          span.className = "md-rv";
          hid.parentNode.insertBefore(span, hid);
          if (off === 0) span.parentNode.insertBefore(vis, span);
          span.appendChild(hid);
          pending.push({ vis, hid, span });
        }
      }
      if (!pending.length) return;
      const total = pending.reduce((a, p) => a + p.hid.data.length, 0);
      const t0 = performance.now();
      const ms = Math.max(1, this.revealMs);
      let shown = 0;
      const step = () => {
        const target = Math.ceil((total * Math.min(1, (performance.now() - t0) / ms)));
        let k = target - shown;
        while (k > 0 && pending.length) {
          const p = pending[0];
          let take = Math.min(k, p.hid.data.length);
          const code = p.hid.data.charCodeAt(take - 1);
          if (code >= 0xd800 && code <= 0xdbff) take += 1; // keep surrogate pairs together
          // appendData/deleteData, not `data =`: replacing the whole text would collapse a selection in it
          p.vis.appendData(p.hid.data.slice(0, take));
          p.hid.deleteData(0, take);
          k -= take;
          shown += take;
          if (!p.hid.data.length) {
            p.span.remove();
            pending.shift();
          }
        }
        this.s.raf = pending.length ? requestAnimationFrame(step) : 0;
      };
      this.s.pending = pending;
      this.s.raf = requestAnimationFrame(step);
    },
    finishReveal() {
      cancelAnimationFrame(this.s.raf);
      this.s.raf = 0;
      for (const p of this.s.pending) {
        p.vis.appendData(p.hid.data);
        p.span.remove();
      }
      this.s.pending = [];
    },

    // --- copy buttons and click-to-load images (event delegation: the tail is rebuilt often) ---
    onClick(e) {
      const copy = e.target.closest("button.md-copy");
      if (copy && this.$el.contains(copy)) {
        this.finishReveal();
        const code = copy.closest(".md-code")?.querySelector("code");
        copyText(code ? code.textContent : "").then((ok) => {
          copy.textContent = ok ? "Copied" : "Copy failed";
          copy.dataset.copied = ok ? "1" : "0";
          setTimeout(() => (copy.textContent = "Copy"), 1500);
        });
        return;
      }
      const img = e.target.closest("button.md-img");
      if (img && this.$el.contains(img)) this.loadImage(img);
    },
    loadImage(button) {
      const src = safeImageUrl(button.dataset.src);
      if (!src) return;
      const img = document.createElement("img");
      img.referrerPolicy = "no-referrer";
      img.className = "md-img-loaded";
      img.alt = button.dataset.alt || "";
      img.src = src;
      button.replaceWith(img);
      this.s.loaded.add(button.dataset.src);
    },
    restoreImages(root) {
      if (!this.s.loaded.size) return;
      root.querySelectorAll("button.md-img").forEach((b) => {
        if (this.s.loaded.has(b.dataset.src)) this.loadImage(b);
      });
    },
  },
};
