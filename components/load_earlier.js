// LoadEarlier: sits above the oldest turn shown. When the reader scrolls up to it (or presses its
// button) it asks the server for older turns, and keeps the turn they were reading where it was
// while the older ones appear above it.
export default {
  template: `
    <div class="load-earlier" v-show="more">
      <q-btn flat no-caps dense icon="history" label="Load earlier messages" :loading="busy" @click="load" />
    </div>`,
  props: {
    more: { type: Boolean, default: false },
  },
  data() {
    return { busy: false };
  },
  mounted() {
    // A reload shows the newest turns again, so an old scroll position would point at other turns.
    history.scrollRestoration = "manual";
    // The page opens at the top and then jumps to the newest turn: only a scroll made after that counts.
    this.armed = false;
    this.anchor = null;
    this.onScroll = () => {
      if (scrollY > 0) this.armed = true;
    };
    addEventListener("scroll", this.onScroll, { passive: true });
    this.observer = new IntersectionObserver((entries) => {
      if (this.ready() && entries.some((e) => e.isIntersecting)) this.load();
    });
    this.observer.observe(this.$el);
  },
  beforeUnmount() {
    this.observer.disconnect();
    removeEventListener("scroll", this.onScroll);
  },
  methods: {
    // the reader has scrolled, or cannot: the turns shown do not even fill the window
    ready() {
      return this.armed || document.documentElement.scrollHeight <= innerHeight;
    },
    load() {
      if (!this.more || this.busy) return;
      this.busy = true;
      const el = this.$el.nextElementSibling;
      this.anchor = el && { el, top: el.getBoundingClientRect().top };
      this.$emit("load");
    },
    // Called by the server once the older turns are in the page (or loading failed).
    async settle() {
      await this.$nextTick();
      const a = this.anchor;
      if (a && a.el.isConnected) {
        // The older turns can take a frame or two to be laid out: wait (at most 10 frames) until the
        // turn being read has moved, then put it back (Chromium's own scroll anchoring may already have).
        for (let i = 0; i < 10 && Math.abs(a.el.getBoundingClientRect().top - a.top) < 1; i++) {
          await new Promise((resolve) => requestAnimationFrame(resolve));
        }
        scrollBy(0, a.el.getBoundingClientRect().top - a.top);
      }
      this.anchor = null;
      this.busy = false;
      const r = this.$el.getBoundingClientRect();
      if (this.ready() && r.height && r.bottom > 0 && r.top < innerHeight) this.load(); // still in view: more
    },
  },
};
